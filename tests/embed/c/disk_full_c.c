/* The C API on a full disk (docs/bad-inputs.md), run by tests/cli/disk_full.sh inside a
 * private tmpfs DIR: a model file already in DIR, the rest of DIR filled up to ENOSPC, then
 * physml_model_save over the existing file and physml_trainer_save to a new one must each
 * return an error code with a message naming the file and the system's reason, leave the
 * existing file byte for byte as it was and leave no temporary or partial file behind.
 *     disk_full_c FIXTURE_DIR DIR
 */
#include "check.h"
#include "physml/embed/physml_c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The whole content of a file (malloc'd, *size bytes), or NULL. */
static char* slurp(const char* path, long* size) {
  FILE* f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  *size = ftell(f);
  fseek(f, 0, SEEK_SET);
  char* data = malloc((size_t)*size + 1);
  if (data && fread(data, 1, (size_t)*size, f) != (size_t)*size) {
    free(data);
    data = NULL;
  }
  fclose(f);
  return data;
}

static void expect_failed_write(int status, const char* what, const char* file) {
  const char* message = physml_last_error();
  printf("%-28s -> %-22s %s\n", what, physml_status_name(status), message);
  CHECK(status != PHYSML_OK, "%s succeeded on a full disk", what);
  CHECK(strstr(message, file) != NULL, "%s: message '%s' does not name '%s'", what, message, file);
  CHECK(strstr(message, "No space left on device") != NULL || strstr(message, "write failed") != NULL ||
            strstr(message, "cannot write") != NULL,
        "%s: message '%s' does not say the write failed", what, message);
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s FIXTURE_DIR DIR\n", argv[0]);
    return 2;
  }
  char path[4096], kept[4096], filler[4096], online[4096];
  snprintf(path, sizeof path, "%s/mlp.pt", argv[1]);
  snprintf(kept, sizeof kept, "%s/model.pt", argv[2]);
  snprintf(filler, sizeof filler, "%s/filler", argv[2]);
  snprintf(online, sizeof online, "%s/online.h5", argv[2]);
  CHECK(physml_initialize(NULL, NULL) == PHYSML_OK, "physml_initialize: %s", physml_last_error());
  physml_model* model = NULL;
  CHECK(physml_model_load(path, NULL, &model) == PHYSML_OK, "load %s: %s", path, physml_last_error());
  if (!model) return 1;
  /* The existing model file, saved while there is room. */
  CHECK(physml_model_save(model, kept) == PHYSML_OK, "first save: %s", physml_last_error());
  long before_size = 0;
  char* before = slurp(kept, &before_size);
  CHECK(before != NULL && before_size > 0, "cannot read back %s", kept);
  /* Fill the rest of the disk. */
  FILE* f = fopen(filler, "wb");
  CHECK(f != NULL, "cannot create %s", filler);
  long filled = 0;
  if (f) {
    char block[4096];
    memset(block, 7, sizeof block);
    while (fwrite(block, 1, sizeof block, f) == sizeof block) filled += (long)sizeof block;
    fclose(f);
  }
  printf("disk filled with %ld bytes\n", filled);

  expect_failed_write(physml_model_save(model, kept), "model_save over model.pt", kept);
  long after_size = 0;
  char* after = slurp(kept, &after_size);
  CHECK(after != NULL && after_size == before_size && memcmp(before, after, (size_t)before_size) == 0,
        "model.pt changed by the failed save (%ld -> %ld bytes)", before_size, after_size);
  physml_trainer* trainer = NULL;
  CHECK(physml_trainer_create(model, NULL, &trainer) == PHYSML_OK, "trainer: %s", physml_last_error());
  expect_failed_write(physml_trainer_save(trainer, online), "trainer_save to online.h5", online);
  FILE* g = fopen(online, "rb");
  CHECK(g == NULL, "a failed trainer_save left %s", online);
  if (g) fclose(g);
  remove(filler);

  physml_trainer_destroy(&trainer);
  physml_model_destroy(&model);
  free(before);
  free(after);
  physml_finalize();
  printf("%d failure(s)\n", failures);
  return failures == 0 ? 0 : 1;
}
