/* Helpers shared by the C tests: checks that stop the test with the library's message,
 * writes through etcdctl, and a small event counter to wait on. */
#ifndef TURTLE_TEST_COMMON_H
#define TURTLE_TEST_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "turtle.h"

extern char **environ;

#define FAIL(...)                                                              \
  do {                                                                         \
    fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                            \
    fprintf(stderr, __VA_ARGS__);                                              \
    fprintf(stderr, "\n");                                                     \
    exit(1);                                                                   \
  } while (0)

/* The call must succeed. */
#define OK(call)                                                               \
  do {                                                                         \
    turtle_status s_ = (call);                                                 \
    if (s_ != TURTLE_OK)                                                       \
      FAIL("%s -> %s: %s", #call, turtle_status_name(s_), turtle_last_error()); \
  } while (0)

/* The call must fail with this status, and say why. */
#define EXPECT_STATUS(want, call)                                              \
  do {                                                                         \
    turtle_status s_ = (call);                                                 \
    if (s_ != (want))                                                          \
      FAIL("%s -> %s (%s), wanted %s", #call, turtle_status_name(s_),          \
           turtle_last_error(), turtle_status_name(want));                     \
    if ((want) != TURTLE_OK && turtle_last_error()[0] == '\0')                 \
      FAIL("%s failed without a message", #call);                              \
  } while (0)

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond))                                                               \
      FAIL("check failed: %s", #cond);                                         \
  } while (0)

static inline const char *endpoints(void) {
  const char *e = getenv("TURTLE_ENDPOINTS");
  if (e == NULL)
    FAIL("TURTLE_ENDPOINTS is not set (the test harness sets it)");
  return e;
}

/* etcdctl put KEY VALUE (or del KEY when value is NULL) against the test cluster. */
static inline void etcdctl_put(const char *key, const char *value) {
  char eps[1024];
  snprintf(eps, sizeof eps, "--endpoints=%s", endpoints());
  char *put[] = {"etcdctl", eps, "put", (char *)key, (char *)value, NULL};
  char *del[] = {"etcdctl", eps, "del", (char *)key, NULL};
  posix_spawn_file_actions_t quiet; /* etcdctl prints "OK": keep the test's output clean */
  posix_spawn_file_actions_init(&quiet);
  posix_spawn_file_actions_addopen(&quiet, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  int rc = posix_spawnp(&pid, "etcdctl", &quiet, NULL, value ? put : del, environ);
  posix_spawn_file_actions_destroy(&quiet);
  if (rc != 0)
    FAIL("cannot run etcdctl: %s", strerror(rc));
  int status;
  if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    FAIL("etcdctl %s %s failed", value ? "put" : "del", key);
}

/* etcdctl put KEY with a value of any bytes, given on its stdin. */
static inline void etcdctl_put_bytes(const char *key, const void *data, size_t len) {
  char eps[1024];
  snprintf(eps, sizeof eps, "--endpoints=%s", endpoints());
  char *put[] = {"etcdctl", eps, "put", (char *)key, NULL};
  int in[2];
  if (pipe(in) != 0)
    FAIL("pipe: %s", strerror(errno));
  posix_spawn_file_actions_t io;
  posix_spawn_file_actions_init(&io);
  posix_spawn_file_actions_adddup2(&io, in[0], 0);
  posix_spawn_file_actions_addclose(&io, in[1]);
  posix_spawn_file_actions_addopen(&io, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  int rc = posix_spawnp(&pid, "etcdctl", &io, NULL, put, environ);
  posix_spawn_file_actions_destroy(&io);
  close(in[0]);
  if (rc != 0)
    FAIL("cannot run etcdctl: %s", strerror(rc));
  for (size_t done = 0; done < len;) {
    ssize_t n = write(in[1], (const char *)data + done, len - done);
    if (n <= 0)
      FAIL("write to etcdctl: %s", strerror(errno));
    done += (size_t)n;
  }
  close(in[1]);
  int status;
  if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    FAIL("etcdctl put %s (%zu bytes) failed", key, len);
}

/* A counter threads can wait on. */
typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int count;
} counter;

#define COUNTER_INIT {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0}

static inline void counter_add(counter *c) {
  pthread_mutex_lock(&c->mu);
  c->count++;
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
}

static inline int counter_get(counter *c) {
  pthread_mutex_lock(&c->mu);
  int n = c->count;
  pthread_mutex_unlock(&c->mu);
  return n;
}

/* Waits until the counter reaches n; fails the test after 20 s. */
static inline void counter_wait(counter *c, int n) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 20;
  pthread_mutex_lock(&c->mu);
  while (c->count < n) {
    if (pthread_cond_timedwait(&c->cv, &c->mu, &until) == ETIMEDOUT) {
      int have = c->count;
      pthread_mutex_unlock(&c->mu);
      FAIL("waited 20 s for %d events, saw %d", n, have);
    }
  }
  pthread_mutex_unlock(&c->mu);
}

#endif
