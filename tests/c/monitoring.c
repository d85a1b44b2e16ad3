/* Monitoring through libturtle: the metrics text (checked by promtool), the metrics
 * setting and /metrics address, the cluster's members with its leader, and each member's
 * health; bad arguments get their status. */
#include "common.h"

/* Pipes `text` through `promtool check metrics`; its exit status. */
static int promtool_check(const char *text) {
  FILE *p = popen("promtool check metrics", "w");
  if (p == NULL)
    FAIL("cannot run promtool: %s", strerror(errno));
  fputs(text, p);
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int main(void) {
  turtle_finder *f;
  OK(turtle_finder_new(endpoints(), &f));
  etcdctl_put("/services/c-mon", "v");
  for (int i = 0; i < 3; i++) {
    char *v;
    OK(turtle_get_service(f, "c-mon", 0, &v));
    CHECK(v != NULL && strcmp(v, "v") == 0);
    turtle_string_free(v);
  }

  /* The metrics: the three lookups are there, and promtool accepts the text. */
  char *text;
  OK(turtle_finder_metrics(f, &text));
  CHECK(strstr(text, "# TYPE turtle_requests_total counter") != NULL);
  CHECK(strstr(text, "operation=\"get_service\",outcome=\"ok\"} 3") != NULL);
  CHECK(strstr(text, "turtle_member_up{member=\"") != NULL);
  CHECK(promtool_check(text) == 0);
  turtle_string_free(text);
  char *addr = (char *)1;
  OK(turtle_finder_metrics_addr(f, &addr));
  CHECK(addr == NULL); /* not served unless asked */

  /* Members: three, one leader, each with its client URL. */
  turtle_members *members;
  OK(turtle_finder_members(f, &members));
  CHECK(members->len == 3);
  int leaders = 0;
  for (size_t i = 0; i < members->len; i++) {
    const turtle_member *m = &members->items[i];
    leaders += m->is_leader;
    CHECK(m->id != 0 && m->name[0] != '\0' && !m->is_learner);
    CHECK(m->client_urls_len == 1 && strncmp(m->client_urls[0], "http://127.0.0.1:", 17) == 0);
    CHECK(m->peer_urls_len == 1);
  }
  CHECK(leaders == 1);
  turtle_members_free(members);

  /* Health: every member reachable, healthy, following the same leader. */
  turtle_health *health;
  OK(turtle_finder_health(f, &health));
  CHECK(health->len == 3);
  for (size_t i = 0; i < health->len; i++) {
    const turtle_member_status *h = &health->items[i];
    CHECK(h->reachable && h->healthy && h->error == NULL);
    CHECK(h->round_trip_us > 0 && h->raft_term > 0 && h->raft_index > 0);
    CHECK(h->leader_id == health->items[0].leader_id && h->leader_id != 0);
    CHECK(h->version[0] == '3' && h->alarms[0] == '\0' && h->db_size > 0);
    CHECK(strstr(endpoints(), h->endpoint) != NULL);
  }
  turtle_health_free(health);

  /* Bad arguments. */
  EXPECT_STATUS(TURTLE_INVALID_ARGUMENT, turtle_finder_metrics(f, NULL));
  EXPECT_STATUS(TURTLE_INVALID_ARGUMENT, turtle_finder_members(f, NULL));
  EXPECT_STATUS(TURTLE_INVALID_ARGUMENT, turtle_finder_health(f, NULL));
  EXPECT_STATUS(TURTLE_INVALID_ARGUMENT, turtle_finder_metrics(NULL, &text));
  turtle_members_free(NULL);
  turtle_health_free(NULL);

  /* Metrics off: asking for them says so; served: the address is told. */
  turtle_config *cfg;
  OK(turtle_config_new(&cfg));
  OK(turtle_config_set_endpoints(cfg, endpoints()));
  OK(turtle_config_set_metrics(cfg, false));
  turtle_finder *quiet;
  OK(turtle_finder_new_with_config(cfg, &quiet));
  EXPECT_STATUS(TURTLE_INVALID_ARGUMENT, turtle_finder_metrics(quiet, &text));
  CHECK(strstr(turtle_last_error(), "metrics are off") != NULL);
  OK(turtle_finder_free(quiet));
  EXPECT_STATUS(TURTLE_INVALID_ARGUMENT, turtle_config_set_metrics_addr(cfg, "nowhere"));
  CHECK(strstr(turtle_last_error(), "is not IP:PORT") != NULL);
  EXPECT_STATUS(TURTLE_INVALID_ARGUMENT, turtle_config_set_metrics_addr(cfg, NULL));
  /* Settings combine when the finder is made, so the order of setters never matters. */
  OK(turtle_config_set_metrics_addr(cfg, "127.0.0.1:0"));
  turtle_finder *served;
  EXPECT_STATUS(TURTLE_INVALID_ARGUMENT, turtle_finder_new_with_config(cfg, &served));
  CHECK(strstr(turtle_last_error(), "metrics are off") != NULL);
  OK(turtle_config_set_metrics(cfg, true));
  OK(turtle_finder_new_with_config(cfg, &served));
  OK(turtle_finder_metrics_addr(served, &addr));
  CHECK(addr != NULL && strncmp(addr, "127.0.0.1:", 10) == 0 && atoi(addr + 10) > 0);
  turtle_string_free(addr);
  OK(turtle_finder_free(served));
  OK(turtle_config_free(cfg));

  OK(turtle_finder_free(f));
  printf("monitoring: ok\n");
  return 0;
}
