// SPDX-License-Identifier: GPL-2.0
/*
 * Race-window delays for tests and the fuzzer (see debug.h).  Built only
 * with STM_DEBUG.
 */
#include <linux/delay.h>
#include <linux/moduleparam.h>
#include "stm.h"
#include "debug.h"

static unsigned int stm_debug_delay_site;
static unsigned int stm_debug_delay_us;
module_param_named(debug_delay_site, stm_debug_delay_site, uint, 0600);
MODULE_PARM_DESC(debug_delay_site, "STM_DEBUG: race window to widen (debug.h)");
module_param_named(debug_delay_us, stm_debug_delay_us, uint, 0600);
MODULE_PARM_DESC(debug_delay_us, "STM_DEBUG: how long, at most 1 s");

void stm_debug_delay(enum stm_debug_site site, bool atomic)
{
	unsigned int us;

	if (READ_ONCE(stm_debug_delay_site) != site)
		return;
	us = min(READ_ONCE(stm_debug_delay_us), 1000000U);
	if (!us)
		return;
	if (atomic)
		udelay(min(us, 10000U));	/* never stall a CPU for long */
	else
		usleep_range(us, us + us / 4 + 1);
}
