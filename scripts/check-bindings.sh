#!/usr/bin/env bash
# Fails when ui/src/bindings differs from what the Rust types (core and shell) generate.
exec bash "$(dirname "${BASH_SOURCE[0]}")/desktop-bindings.sh" --check
