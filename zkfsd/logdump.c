/* zkfs-logdump: prints a zkfsd transaction log or snapshot file in readable form, for
 * operators and tests. The file kind is told by its magic bytes. Exit status 0 when the whole
 * file reads cleanly, 1 when it is damaged (what could be read is printed first), 2 on usage. */
#include <stdio.h>
#include <string.h>

#include "zkfsd/snap.h"
#include "zkfsd/wal.h"

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fprintf(argc < 2 ? stderr : stdout, "usage: zkfs-logdump FILE...   (log.* or snapshot.* of a zkfsd dataDir)\n");
        return argc < 2 ? 2 : 0;
    }
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        char magic[4] = {0};
        FILE *f = fopen(argv[i], "rb");
        if (!f || fread(magic, 1, 4, f) != 4) {
            fprintf(stderr, "zkfs-logdump: cannot read %s\n", argv[i]);
            if (f)
                fclose(f);
            rc = 1;
            continue;
        }
        fclose(f);
        if (!memcmp(magic, "ZKFL", 4))
            rc |= wal_dump(argv[i], stdout) ? 1 : 0;
        else if (!memcmp(magic, "ZKSN", 4))
            rc |= snap_dump(argv[i], stdout) ? 1 : 0;
        else {
            fprintf(stderr, "zkfs-logdump: %s is neither a zkfsd log nor a snapshot\n", argv[i]);
            rc = 1;
        }
    }
    return rc;
}
