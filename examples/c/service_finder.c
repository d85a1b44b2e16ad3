/* The seed's service finder in C: look up "cdd", watch it with a callback, and print
 * "Critical Section!" every second under the program's own lock, as the seed's Python
 * does. Members come from TURTLE_ENDPOINTS. An optional argument stops after N rounds.
 *
 *   cc service_finder.c $(pkg-config --cflags --libs turtle) -o service_finder
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <turtle.h>

static pthread_mutex_t thread_lock = PTHREAD_MUTEX_INITIALIZER;

/* Runs on libturtle's dispatcher thread, one call at a time. */
static void service_change_callback(void *user_data, const turtle_change *change) {
  (void)user_data;
  pthread_mutex_lock(&thread_lock);
  printf("Key change: %s\n", change->value ? change->value : "(deleted)");
  fflush(stdout);
  pthread_mutex_unlock(&thread_lock);
}

int main(int argc, char **argv) {
  long rounds = argc > 1 ? strtol(argv[1], NULL, 10) : -1;
  turtle_finder *sf;
  if (turtle_finder_new_from_env(&sf) != TURTLE_OK) {
    fprintf(stderr, "turtle_finder_new_from_env: %s\n", turtle_last_error());
    return 1;
  }
  char *cdd = NULL;
  if (turtle_get_service(sf, "cdd", 0, &cdd) != TURTLE_OK) {
    fprintf(stderr, "get_service: %s\n", turtle_last_error());
  } else {
    printf("cdd = %s\n", cdd ? cdd : "(absent)");
    turtle_string_free(cdd);
  }
  turtle_watch *watch;
  if (turtle_watch_service(sf, "cdd", 0, service_change_callback, NULL, NULL, NULL, &watch) != TURTLE_OK) {
    fprintf(stderr, "watch_service: %s\n", turtle_last_error());
    turtle_finder_free(sf);
    return 1;
  }
  for (long i = 0; rounds < 0 || i < rounds; i++) {
    sleep(1);
    pthread_mutex_lock(&thread_lock);
    printf("Critical Section!\n");
    fflush(stdout);
    pthread_mutex_unlock(&thread_lock);
  }
  turtle_watch_free(watch);
  turtle_finder_free(sf);
  return 0;
}
