/* SPDX-License-Identifier: MIT */
/* Framework self-test: these cases must make the TMK fail (a failed check,
 * then an exception no fixup covers, which ends the run with a FAIL verdict). */
#include "tmk.h"

TMK_CASE(passes)
{
	TMK_CHECK_EQ(1 + 1, 2);
}

TMK_CASE(failed_check_is_reported)
{
	TMK_CHECK_EQ(inb(0x0700), 0x12); /* unhandled port reads 0xff */
}

TMK_CASE(unexpected_exception_is_reported)
{
	__asm__ volatile("ud2");
	TMK_CHECK(!"not reached");
}
