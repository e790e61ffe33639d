#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# STUB: to be written
exit 77
