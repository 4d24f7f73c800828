/* SPDX-License-Identifier: MIT */
/* Framework self-test: a guest that never reports a verdict must be failed by
 * the runner's watchdog. */
#include "tmk.h"

TMK_CASE(never_finishes)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}
