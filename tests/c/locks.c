/* Locks, fenced writes and elections through libturtle: turns with growing tokens, a lost
 * lock calls on_lost and its fenced write fails, compare-and-swap on a revision, a
 * campaign and its leader, bad arguments with their status. */
#include <stdbool.h>

#include "common.h"

static counter lost = COUNTER_INIT;
static counter released = COUNTER_INIT;
static turtle_status lost_status;

static void on_lost(void *ud, turtle_status status, const char *message) {
  (void)ud;
  (void)message;
  lost_status = status;
  counter_add(&lost);
}

static void release(void *ud) {
  (void)ud;
  counter_add(&released);
}

int main(void) {
  turtle_finder *a, *b;
  OK(turtle_finder_new(endpoints(), &a));
  OK(turtle_finder_new(endpoints(), &b));

  /* Held, then refused to another, then the other's with a larger token. */
  turtle_lock_guard *held, *none, *later;
  OK(turtle_lock(a, "c-jobs", 10, 0, on_lost, NULL, release, &held));
  int64_t token = 0;
  char *key = NULL;
  bool valid = false;
  OK(turtle_lock_guard_info(held, &token, &key, &valid));
  CHECK(valid && token > 0 && strncmp(key, "c-jobs/", 7) == 0);
  OK(turtle_try_lock(b, "c-jobs", 10, NULL, NULL, NULL, &none));
  CHECK(none == NULL);
  EXPECT_STATUS(TURTLE_DEADLINE_EXCEEDED, turtle_lock(b, "c-jobs", 10, 300, NULL, NULL, NULL, &none));

  /* Fenced writes land while it is held. */
  int64_t rev = 0;
  OK(turtle_put(a, "/c-jobs/state", (const uint8_t *)"1", 1, held, -1, &rev));
  CHECK(rev > 0);

  /* Deleted under it: on_lost once, invalid for good, its fenced write refused. */
  etcdctl_put(key, NULL);
  counter_wait(&lost, 1);
  CHECK(lost_status == TURTLE_SESSION_LOST);
  OK(turtle_lock_guard_info(held, NULL, NULL, &valid));
  CHECK(!valid);
  EXPECT_STATUS(TURTLE_CONDITION_FAILED, turtle_put(a, "/c-jobs/state", (const uint8_t *)"2", 1, held, -1, NULL));
  turtle_entry *e;
  OK(turtle_get(a, "/c-jobs/state", &e));
  CHECK(e != NULL && e->value_len == 1 && e->value[0] == '1' && e->version == 1);
  turtle_entry_free(e);
  OK(turtle_lock(b, "c-jobs", 10, 5000, NULL, NULL, NULL, &later));
  int64_t later_token = 0;
  OK(turtle_lock_guard_info(later, &later_token, NULL, NULL));
  CHECK(later_token > token);
  OK(turtle_lock_guard_free(held));
  counter_wait(&released, 1);
  OK(turtle_lock_guard_free(later));
  EXPECT_STATUS(TURTLE_INVALID_HANDLE, turtle_lock_guard_free(later));
  turtle_string_free(key);

  /* Compare-and-swap on the mod revision. */
  OK(turtle_put(a, "/c-cfg", (const uint8_t *)"x", 1, NULL, 0, &rev));
  EXPECT_STATUS(TURTLE_CONDITION_FAILED, turtle_put(a, "/c-cfg", (const uint8_t *)"y", 1, NULL, 0, NULL));
  OK(turtle_put(a, "/c-cfg", NULL, 0, NULL, rev, NULL));
  OK(turtle_get(a, "/c-cfg", &e));
  CHECK(e != NULL && e->value == NULL && e->value_len == 0);
  EXPECT_STATUS(TURTLE_CONDITION_FAILED, turtle_delete(a, "/c-cfg", NULL, rev, NULL));
  OK(turtle_delete(a, "/c-cfg", NULL, e->mod_revision, NULL));
  turtle_entry_free(e);
  OK(turtle_get(a, "/c-cfg", &e));
  CHECK(e == NULL);

  /* An election: the leader is the campaign's key and value; proclaim changes it. */
  turtle_lock_guard *leading;
  OK(turtle_leader(b, "c-sched", &e));
  CHECK(e == NULL);
  OK(turtle_campaign(a, "c-sched", (const uint8_t *)"host-a", 6, 10, 0, NULL, NULL, NULL, &leading));
  OK(turtle_proclaim(a, leading, (const uint8_t *)"host-b", 6, NULL));
  OK(turtle_leader(b, "c-sched", &e));
  CHECK(e != NULL && e->value_len == 6 && memcmp(e->value, "host-b", 6) == 0);
  OK(turtle_lock_guard_info(leading, &token, NULL, NULL));
  CHECK(e->create_revision == token);
  turtle_entry_free(e);
  OK(turtle_lock_guard_free(leading));
  OK(turtle_leader(b, "c-sched", &e));
  CHECK(e == NULL);

  /* Bad arguments. */
  turtle_lock_guard *l;
  EXPECT_STATUS(TURTLE_INVALID_ARGUMENT, turtle_lock(a, "", 10, 0, NULL, NULL, NULL, &l));
  EXPECT_STATUS(TURTLE_INVALID_ARGUMENT, turtle_lock(a, NULL, 10, 0, NULL, NULL, NULL, &l));
  EXPECT_STATUS(TURTLE_INVALID_ARGUMENT, turtle_lock(a, "x", 10, 0, NULL, NULL, NULL, NULL));
  EXPECT_STATUS(TURTLE_INVALID_ARGUMENT, turtle_put(a, "/k", NULL, 3, NULL, -1, NULL));
  EXPECT_STATUS(TURTLE_INVALID_ARGUMENT, turtle_put(a, "/k", NULL, 0, NULL, -2, NULL));
  EXPECT_STATUS(TURTLE_INVALID_ARGUMENT, turtle_put(a, "", NULL, 0, NULL, -1, NULL));
  EXPECT_STATUS(TURTLE_INVALID_HANDLE, turtle_put(a, "/k", NULL, 0, (turtle_lock_guard *)a, -1, NULL));
  OK(turtle_lock(a, "c-plain", 10, 0, NULL, NULL, NULL, &l));
  EXPECT_STATUS(TURTLE_INVALID_ARGUMENT, turtle_proclaim(a, l, NULL, 0, NULL));
  OK(turtle_lock_guard_free(l));

  OK(turtle_finder_free(a));
  OK(turtle_finder_free(b));
  printf("locks: ok\n");
  return 0;
}
