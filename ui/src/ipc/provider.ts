import { call } from "./core";

export const providerStatus = () => call("provider_status");
export const restartProvider = () => call("restart_provider");
export const changePort = (port: number) => call("change_port", { port });
