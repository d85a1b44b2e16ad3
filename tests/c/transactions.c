/* Transactions, running for leader, lock sessions and observers through libturtle:
 * compares that hold and do not, both branches' reads, a lock's owner compare, bad
 * arguments with their status; a candidacy elected, its leadership lost and won again,
 * freed; locks and a campaign on one session, lost with it; an observer seeing each
 * leader and none. */
#include <inttypes.h>
#include <stdbool.h>

#include "common.h"

static counter elected = COUNTER_INIT;
static counter lost = COUNTER_INIT;
static counter released = COUNTER_INIT;
static int64_t elected_token;
static char elected_value[16];

static void on_elected(void *ud, const turtle_entry *leader) {
  (void)ud;
  elected_token = leader->create_revision;
  size_t n = leader->value_len < sizeof elected_value - 1 ? leader->value_len : sizeof elected_value - 1;
  memcpy(elected_value, leader->value, n);
  elected_value[n] = '\0';
  counter_add(&elected);
}

static void on_lost(void *ud, turtle_status status, const char *message) {
  (void)ud;
  (void)message;
  CHECK(status == TURTLE_SESSION_LOST);
  counter_add(&lost);
}

static void release(void *ud) {
  (void)ud;
  counter_add(&released);
}

static void transactions(turtle_finder *f) {
  int64_t rev = 0;
  OK(turtle_put(f, "/c-txn/job", (const uint8_t *)"queued", 6, NULL, -1, &rev));
  turtle_txn *t;
  OK(turtle_txn_new(&t));
  OK(turtle_txn_when_value(t, "/c-txn/job", "==", (const uint8_t *)"queued", 6));
  OK(turtle_txn_when_number(t, "/c-txn/job", TURTLE_FIELD_MOD_REVISION, "==", rev));
  OK(turtle_txn_when_number(t, "/c-txn/owner", TURTLE_FIELD_CREATE_REVISION, "==", 0));
  OK(turtle_txn_put(t, TURTLE_THEN, "/c-txn/job", (const uint8_t *)"running", 7));
  OK(turtle_txn_put(t, TURTLE_THEN, "/c-txn/owner", (const uint8_t *)"c", 1));
  OK(turtle_txn_get(t, TURTLE_OTHERWISE, "/c-txn/job"));
  OK(turtle_txn_get(t, TURTLE_OTHERWISE, "/c-txn/absent"));
  turtle_txn_result *r;
  OK(turtle_txn_commit(f, t, &r));
  CHECK(r->succeeded && r->revision > rev && r->gets_len == 0);
  int64_t at = r->revision;
  turtle_txn_result_free(r);
  /* Again: its compares fail, the other branch reads at the same revision. */
  OK(turtle_txn_commit(f, t, &r));
  CHECK(!r->succeeded && r->revision == at && r->gets_len == 2);
  CHECK(r->gets[0] != NULL && r->gets[0]->value_len == 7 && memcmp(r->gets[0]->value, "running", 7) == 0);
  CHECK(r->gets[0]->mod_revision == at);
  CHECK(r->gets[1] == NULL);
  turtle_txn_result_free(r);
  turtle_txn_result_free(NULL);
  OK(turtle_txn_free(t));
  EXPECT_STATUS(TURTLE_INVALID_HANDLE, turtle_txn_free(t));
  EXPECT_STATUS(TURTLE_INVALID_HANDLE, turtle_txn_commit(f, t, &r));

  /* Under a lock's owner compare: lands while held, not once the key is gone. */
  turtle_lock_guard *held;
  OK(turtle_lock(f, "c-txn-lock", 10, 0, NULL, NULL, NULL, &held));
  OK(turtle_txn_new(&t));
  OK(turtle_txn_when_owner(t, held));
  OK(turtle_txn_put(t, TURTLE_THEN, "/c-txn/fenced", (const uint8_t *)"1", 1));
  OK(turtle_txn_commit(f, t, &r));
  CHECK(r->succeeded);
  turtle_txn_result_free(r);
  char *key = NULL;
  OK(turtle_lock_guard_info(held, NULL, &key, NULL));
  etcdctl_put(key, NULL);
  OK(turtle_txn_commit(f, t, &r));
  CHECK(!r->succeeded);
  turtle_txn_result_free(r);
  turtle_string_free(key);
  OK(turtle_lock_guard_free(held));

  /* Bad arguments: each refused with its status, the transaction unchanged. */
  EXPECT_STATUS(TURTLE_INVALID_ARGUMENT, turtle_txn_new(NULL));
  EXPECT_STATUS(TURTLE_INVALID_ARGUMENT, turtle_txn_when_value(t, "/k", "=", NULL, 0));
  EXPECT_STATUS(TURTLE_INVALID_ARGUMENT, turtle_txn_when_value(t, "/k", NULL, NULL, 0));
  EXPECT_STATUS(TURTLE_INVALID_ARGUMENT, turtle_txn_when_value(t, "/k", "==", NULL, 2));
  EXPECT_STATUS(TURTLE_INVALID_ARGUMENT, turtle_txn_when_number(t, "/k", 9, "==", 0));
  EXPECT_STATUS(TURTLE_INVALID_ARGUMENT, turtle_txn_put(t, 2, "/k", NULL, 0));
  EXPECT_STATUS(TURTLE_INVALID_ARGUMENT, turtle_txn_delete(t, TURTLE_THEN, NULL));
  EXPECT_STATUS(TURTLE_INVALID_HANDLE, turtle_txn_when_owner(t, (turtle_lock_guard *)f));
  EXPECT_STATUS(TURTLE_INVALID_HANDLE, turtle_txn_get((turtle_txn *)f, TURTLE_THEN, "/k"));
  OK(turtle_txn_put(t, TURTLE_OTHERWISE, "/c-txn/dup", NULL, 0));
  OK(turtle_txn_delete(t, TURTLE_OTHERWISE, "/c-txn/dup"));
  EXPECT_STATUS(TURTLE_INVALID_ARGUMENT, turtle_txn_commit(f, t, &r));
  OK(turtle_txn_free(t));
}

static void candidacy(turtle_finder *f) {
  turtle_candidacy *c;
  OK(turtle_run_for_leader(f, "c-cron", (const uint8_t *)"host-a", 6, 10, on_elected, on_lost, NULL, release, &c));
  counter_wait(&elected, 1);
  CHECK(strcmp(elected_value, "host-a") == 0);
  bool leading = false;
  int64_t token = 0;
  OK(turtle_candidacy_info(c, &leading, &token));
  CHECK(leading && token == elected_token);
  /* Its key deleted under it: lost, then elected again with a newer token. */
  turtle_entry *e;
  OK(turtle_leader(f, "c-cron", &e));
  CHECK(e != NULL && e->create_revision == token);
  etcdctl_put(e->key, NULL);
  turtle_entry_free(e);
  counter_wait(&lost, 1);
  counter_wait(&elected, 2);
  CHECK(elected_token > token);
  OK(turtle_candidacy_free(c));
  counter_wait(&released, 1);
  OK(turtle_leader(f, "c-cron", &e));
  CHECK(e == NULL);
  EXPECT_STATUS(TURTLE_INVALID_HANDLE, turtle_candidacy_free(c));
  EXPECT_STATUS(TURTLE_INVALID_ARGUMENT,
                turtle_run_for_leader(f, "", NULL, 0, 10, NULL, NULL, NULL, release, &c));
  counter_wait(&released, 2);
}

static counter observed = COUNTER_INIT;
static char observed_value[16];

static void on_leader(void *ud, const turtle_entry *leader) {
  (void)ud;
  size_t n = 0;
  if (leader != NULL) {
    n = leader->value_len < sizeof observed_value - 1 ? leader->value_len : sizeof observed_value - 1;
    memcpy(observed_value, leader->value, n);
  }
  observed_value[n] = '\0';
  counter_add(&observed);
}

static void sessions_and_observers(turtle_finder *f) {
  turtle_watch *w;
  OK(turtle_observe(f, "c-obs", on_leader, NULL, release, &w));
  counter_wait(&observed, 1);
  CHECK(strcmp(observed_value, "") == 0); /* no leader yet */
  turtle_lock_session *s;
  OK(turtle_lock_session_new(f, 5, &s));
  int64_t lease = 0;
  bool alive = false;
  OK(turtle_lock_session_info(s, &lease, &alive));
  CHECK(alive && lease != 0);
  turtle_lock_guard *one, *two, *leading;
  OK(turtle_lock_on(f, s, "c-s1", 0, NULL, NULL, NULL, &one));
  EXPECT_STATUS(TURTLE_INVALID_ARGUMENT, turtle_lock_on(f, s, "c-s1", 100, NULL, NULL, NULL, &two));
  OK(turtle_campaign_on(f, s, "c-obs", (const uint8_t *)"on-s", 4, 0, NULL, NULL, NULL, &leading));
  counter_wait(&observed, 2);
  CHECK(strcmp(observed_value, "on-s") == 0);
  char *key = NULL;
  OK(turtle_lock_guard_info(one, NULL, &key, NULL));
  char want[64];
  snprintf(want, sizeof want, "c-s1/%" PRIx64, (uint64_t)lease);
  CHECK(strcmp(key, want) == 0);
  turtle_string_free(key);
  /* Freeing the session revokes its lease: the locks on it are lost, the leader gone. */
  OK(turtle_lock_session_free(s));
  counter_wait(&observed, 3);
  CHECK(strcmp(observed_value, "") == 0);
  bool valid = true;
  OK(turtle_lock_guard_info(one, NULL, NULL, &valid));
  CHECK(!valid);
  EXPECT_STATUS(TURTLE_INVALID_HANDLE, turtle_lock_on(f, s, "c-s2", 0, NULL, NULL, NULL, &two));
  EXPECT_STATUS(TURTLE_INVALID_ARGUMENT, turtle_observe(f, "c-obs", NULL, NULL, NULL, &w));
  OK(turtle_lock_guard_free(one));
  OK(turtle_lock_guard_free(leading));
  OK(turtle_watch_free(w));
}

int main(void) {
  turtle_finder *f;
  OK(turtle_finder_new(endpoints(), &f));
  transactions(f);
  candidacy(f);
  sessions_and_observers(f);
  OK(turtle_finder_free(f));
  printf("transactions: ok\n");
  return 0;
}
