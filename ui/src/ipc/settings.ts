import type { SaveSettingsResult } from "../bindings/SaveSettingsResult";
import type { Settings } from "../bindings/Settings";
import { call } from "./core";

export const getSettings = () => call<Settings>("get_settings");
export const saveSettings = (settings: Settings) => call<SaveSettingsResult>("save_settings", { settings });
