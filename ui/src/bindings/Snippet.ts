// Hand-written mirror of the Rust type; ts-rs will generate this file. Do not edit by hand once generated.

export type Snippet = { language: string, label: string, code: string, };
