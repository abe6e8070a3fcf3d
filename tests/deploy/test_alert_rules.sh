#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The Prometheus alert rules: promtool finds them valid, and their unit tests
# (deploy/prometheus/hasvc-alerts.test.yml) pass.
set -euo pipefail
SRC=${HASVC_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
command -v promtool >/dev/null || { echo "promtool is missing (deploy/install-deps)" >&2; exit 1; }
cd "$SRC/deploy/prometheus"
promtool check rules hasvc-alerts.yml
promtool test rules hasvc-alerts.test.yml
