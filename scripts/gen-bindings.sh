#!/usr/bin/env bash
# Regenerates ui/src/bindings from the Rust types (ts-rs), core and shell.
exec bash "$(dirname "${BASH_SOURCE[0]}")/desktop-bindings.sh"
