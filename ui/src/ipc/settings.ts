import type { Settings } from "../bindings/Settings";
import { call } from "./core";

export const getSettings = () => call("get_settings");
export const saveSettings = (settings: Settings) => call("save_settings", { settings });
