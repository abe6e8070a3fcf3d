// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Tests of mirror_inflight: a live migration stays "under way" until it
 * ends, a cancel reaches it (and only it), and once ended a cancel finds
 * nothing: mirror_continue then goes on with the guest where it is.
 */
#include <criterion/criterion.h>

#include "mirror_inflight.h"

static int owner_a, owner_b;

Test(mirror_inflight, a_cancel_reaches_the_migration_under_way_until_it_ends)
{
	struct mirror_inflight *f = mirror_inflight_begin(&owner_a, "vm1");

	cr_assert_not_null(f);
	cr_assert_not(mirror_inflight_cancelled(f));
	cr_assert(mirror_inflight_cancel(&owner_a, "vm1"), "vm1's migration is under way");
	cr_assert(mirror_inflight_cancelled(f));
	mirror_inflight_end(f);
	cr_assert_not(mirror_inflight_cancel(&owner_a, "vm1"), "ended: nothing to cancel");
}

Test(mirror_inflight, a_cancel_reaches_only_its_mirror_and_vm)
{
	struct mirror_inflight *f1 = mirror_inflight_begin(&owner_a, "vm1");
	struct mirror_inflight *f2 = mirror_inflight_begin(&owner_a, "vm2");
	struct mirror_inflight *g1 = mirror_inflight_begin(&owner_b, "vm1");

	cr_assert(mirror_inflight_cancel(&owner_a, "vm2"));
	cr_assert_not(mirror_inflight_cancelled(f1));
	cr_assert(mirror_inflight_cancelled(f2));
	cr_assert_not(mirror_inflight_cancelled(g1), "another mirror's vm1");
	cr_assert_not(mirror_inflight_cancel(&owner_b, "vm3"));
	mirror_inflight_end(f2);
	mirror_inflight_end(f1);
	cr_assert(mirror_inflight_cancel(&owner_b, "vm1"), "the others' end left it listed");
	mirror_inflight_end(g1);
	mirror_inflight_end(NULL);
}
