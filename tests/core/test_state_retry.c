// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tests of hs_state_retry_ms: how soon the daemon sends again what corosync
 * refused (hs_daemon.c, state_retry). The sync round after a lost host is on
 * the failover's path, so the first retry comes after 10 ms, not at the
 * 300 ms cron; each refusal doubles the wait, and once the wait would reach
 * the cron's period the cron alone retries (0: no timer of its own).
 */
#include <criterion/criterion.h>

#include "hs_core.h"

Test(state_retry, the_first_retry_is_soon_and_each_next_twice_as_late)
{
	cr_assert_eq(hs_state_retry_ms(0, 300), 10);
	cr_assert_eq(hs_state_retry_ms(1, 300), 20);
	cr_assert_eq(hs_state_retry_ms(2, 300), 40);
	cr_assert_eq(hs_state_retry_ms(3, 300), 80);
	cr_assert_eq(hs_state_retry_ms(4, 300), 160);
}

Test(state_retry, from_the_cron_period_on_the_cron_retries_alone)
{
	cr_assert_eq(hs_state_retry_ms(5, 300), 0, "320 ms would be later than the cron");
	cr_assert_eq(hs_state_retry_ms(40, 300), 0, "no overflow: the doubling stops at the cron");
	cr_assert_eq(hs_state_retry_ms(0, 10), 0, "a cron as fast as the first retry needs none");
}
