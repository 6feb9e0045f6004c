// Hand-written mirror of the Rust type; ts-rs will generate this file. Do not edit by hand once generated.

import type { Theme } from "./Theme";

export type Settings = { port: number, bind_address: string, issuer_override: string | null, registration_open: boolean, access_token_ttl: number, refresh_token_ttl: number, id_token_ttl: number, theme: Theme, start_minimized: boolean, };
