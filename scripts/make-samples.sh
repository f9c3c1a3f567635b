#!/usr/bin/env bash
# Regenerates samples/*.pcap from scripts/scenarios; needs root.
exec node "$(dirname "$0")/make-samples.mjs" "$@"
