import type { ProviderStatus } from "../bindings/ProviderStatus";
import { call } from "./core";

export const providerStatus = () => call<ProviderStatus>("provider_status");
export const restartProvider = () => call<ProviderStatus>("restart_provider");
export const changePort = (port: number) => call<ProviderStatus>("change_port", { port });
