/* Replays fuzz inputs without libFuzzer, for `make check`: every file named on the command line,
 * and every file in each directory named. Linked into each fuzz target's plain build. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) {
        perror(path);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    size_t size = (size_t)st.st_size, got = 0;
    /* exactly size bytes, so a sanitizer build catches reads past the end */
    uint8_t *data = malloc(size ? size : 1);
    if (!data)
        abort();
    while (got < size) {
        ssize_t n = read(fd, data + got, size - got);
        if (n <= 0) {
            perror(path);
            free(data);
            close(fd);
            return -1;
        }
        got += (size_t)n;
    }
    close(fd);
    LLVMFuzzerTestOneInput(data, size);
    free(data);
    return 0;
}

static int replay_dir(const char *dir, unsigned *count)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    int r = 0;
    if (n < 0) {
        perror(dir);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
        if (names[i]->d_name[0] != '.' && r == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            r = replay_file(path);
            *count += r == 0;
        }
        free(names[i]);
    }
    free(names);
    return r;
}

int main(int argc, char **argv)
{
    unsigned count = 0;
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        int r;
        if (stat(argv[i], &st) < 0) {
            perror(argv[i]);
            return 1;
        }
        if (S_ISDIR(st.st_mode)) {
            r = replay_dir(argv[i], &count);
        } else {
            r = replay_file(argv[i]);
            count += r == 0;
        }
        if (r < 0)
            return 1;
    }
    printf("replayed %u inputs\n", count);
    return 0;
}
