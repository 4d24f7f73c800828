/* SPDX-License-Identifier: MIT */
/* Host setup of TMKs that need no devices of their own. */
#include "tmk_host.h"

const struct tmk_setup tmk_setup = {
	.name = "tmk",
};
