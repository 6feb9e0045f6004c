// Hand-written mirror of the Rust type; ts-rs will generate this file. Do not edit by hand once generated.

import type { ProviderState } from "./ProviderState";

export type ProviderStatus = { state: ProviderState, issuer: string, bind: string, port: number, message: string | null, data_dir: string, };
