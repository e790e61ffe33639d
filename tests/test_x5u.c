/* SPDX-License-Identifier: BSD-3-Clause */
/* STUB: to be written */
#include <criterion/criterion.h>
