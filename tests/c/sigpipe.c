/* Lookups from two threads while the harness (tests/rust/c_abi.rs) kills and restarts
 * members, with SIGPIPE's default action, which ends the process: the library must never
 * raise SIGPIPE in its host program, though the calling threads write to members' sockets.
 * Runs until its stdin closes. */
#include <signal.h>

#include "common.h"

static volatile int done = 0;

static void *lookups(void *arg) {
  turtle_finder *f = arg;
  while (!done) {
    char *value = NULL;
    /* Any status will do while members die: the process must only live on. */
    if (turtle_get_service(f, "pipe", 2000, &value) == TURTLE_OK) turtle_string_free(value);
  }
  return NULL;
}

int main(void) {
  signal(SIGPIPE, SIG_DFL);
  turtle_finder *f;
  OK(turtle_finder_new(endpoints(), &f));
  pthread_t threads[2];
  for (int i = 0; i < 2; i++) CHECK(pthread_create(&threads[i], NULL, lookups, f) == 0);
  printf("sigpipe: ready\n");
  fflush(stdout);
  char line[64];
  while (fgets(line, sizeof line, stdin) != NULL) {
  }
  done = 1;
  for (int i = 0; i < 2; i++) CHECK(pthread_join(threads[i], NULL) == 0);
  OK(turtle_finder_free(f));
  printf("sigpipe: ok\n");
  return 0;
}
