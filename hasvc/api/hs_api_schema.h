/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_api_schema: the version of the API's JSON shapes, in every answer and
 * every streamed event ("schema"). A leaf header, so that the parts of api/
 * that only shape JSON (the event stream) need not include the server's.
 */
#pragma once

#define HS_API_SCHEMA 1
