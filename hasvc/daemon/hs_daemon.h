/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_daemon: the composition root of hasvcd. It builds the parts from the
 * bottom up (core, then coord's fencing and coordinator, pairs, the API),
 * registers the hooks by which the core tells the parts above that something
 * changed, runs the one periodic timer, and takes everything down again in
 * reverse. No part knows the daemon; the daemon knows every part.
 */
#pragma once

int hs_daemon_run(const char *config_path);
