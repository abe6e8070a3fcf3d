/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hs_pair_duties: the duty handlers of pairs/, one per action of the duty
 * table (model/hs_pair_fsm.c), bound in hs_pair_duties.c; internal to pairs/.
 */
#pragma once

#include "hs_pairs_internal.h"

typedef void (*hs_pair_duty_fn)(struct hs_pairs *p, struct task *t, const struct hs_pair *v);

/* The handler of ACTION, or NULL when no duty names it. */
hs_pair_duty_fn hs__pair_duty_handler(enum hs_pair_action action);

/* hs_pair_duty_mirror.c */
void hs__duty_prepare(struct hs_pairs *p, struct task *t, const struct hs_pair *v);
void hs__duty_mirror(struct hs_pairs *p, struct task *t, const struct hs_pair *v);
void hs__duty_cut(struct hs_pairs *p, struct task *t, const struct hs_pair *v);
void hs__duty_watch_link(struct hs_pairs *p, struct task *t, const struct hs_pair *v);
void hs__duty_watch_disks(struct hs_pairs *p, struct task *t, const struct hs_pair *v);
void hs__duty_switchover_watch(struct hs_pairs *p, struct task *t, const struct hs_pair *v);
/* hs_pair_duty_move.c */
void hs__duty_await_fence(struct hs_pairs *p, struct task *t, const struct hs_pair *v);
void hs__duty_promote(struct hs_pairs *p, struct task *t, const struct hs_pair *v);
void hs__duty_stop_primary(struct hs_pairs *p, struct task *t, const struct hs_pair *v);
void hs__duty_delete_primary(struct hs_pairs *p, struct task *t, const struct hs_pair *v);
void hs__duty_delete_backup(struct hs_pairs *p, struct task *t, const struct hs_pair *v);
void hs__duty_delete_orphan(struct hs_pairs *p, struct task *t, const struct hs_pair *v);
/* hs_pair_duty_guest.c */
void hs__duty_keep_running(struct hs_pairs *p, struct task *t, const struct hs_pair *v);
/* true when one more start is allowed now (and forgets the starts of past windows) */
bool hs__keep_running_allowed(struct task *t, uint64_t now);
/* hs_pair_duty_live.c */
void hs__duty_hand_over(struct hs_pairs *p, struct task *t, const struct hs_pair *v);
void hs__duty_catch_up(struct hs_pairs *p, struct task *t, const struct hs_pair *v);
void hs__duty_migrate(struct hs_pairs *p, struct task *t, const struct hs_pair *v);
void hs__duty_reverse(struct hs_pairs *p, struct task *t, const struct hs_pair *v);
void hs__duty_continue(struct hs_pairs *p, struct task *t, const struct hs_pair *v);
/* coordinator: a failed live switchover with --allow-cold goes on cold */
void hs__pairs_live_fallback(struct hs_pairs *p, const struct hs_pair *pairs, size_t n);
