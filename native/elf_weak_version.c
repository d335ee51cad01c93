/* elf-weak-version FILE LIBRARY VERSION
 *
 * Marks FILE's requirement of symbol version VERSION from LIBRARY weak, unless the system's
 * LIBRARY defines VERSION. Exists for TorchSharp 0.107: libLibTorchSharp.so requires
 * GLIBCXX_3.4.32 (GCC 13's libstdc++) only for the marker symbol std::ios_base_library_init(),
 * which has no relocation, while Debian 12 ships GCC 12 (up to GLIBCXX_3.4.30). The dynamic
 * loader fails on a missing version unless the requirement carries VER_FLG_WEAK, so setting
 * that one bit in .gnu.version_r is enough to load the library.
 *
 * FILE is replaced by a patched copy (write, fsync, rename), which also breaks any hard link
 * into the NuGet cache; a FILE inside the cache itself is refused. Exit 0 when patched or when
 * nothing needs doing, 2 with a one-line error otherwise.
 */
#define _GNU_SOURCE /* dlinfo, RTLD_DI_LINKMAP, realpath */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ELF structures are copied straight out of the file, which is only right on a host of the
 * same byte order as the ELF64 little-endian files accepted. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "host must be little-endian");

#define EXIT_ERROR 2

struct image {
    const char *path;
    unsigned char *data;
    size_t size;
    mode_t mode;
    uint64_t section_table;
    uint64_t section_count;
};

static noreturn void fail(const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    fputs("elf-weak-version: ", stderr);
    vfprintf(stderr, format, arguments);
    fputc('\n', stderr);
    va_end(arguments);
    exit(EXIT_ERROR);
}

static int in_bounds(uint64_t offset, uint64_t length, uint64_t limit) {
    return offset <= limit && length <= limit - offset;
}

static void read_image(const char *path, struct image *image) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat status;
    if (fd < 0 || fstat(fd, &status) != 0)
        fail("cannot read %s: %s", path, strerror(errno));
    if (!S_ISREG(status.st_mode))
        fail("%s is not a regular file", path);
    *image = (struct image){.path = path, .size = (size_t)status.st_size, .mode = status.st_mode};
    image->data = malloc(image->size ? image->size : 1);
    if (image->data == NULL)
        fail("cannot allocate %zu bytes for %s", image->size, path);
    for (size_t done = 0; done < image->size;) {
        ssize_t got = read(fd, image->data + done, image->size - done);
        if (got <= 0)
            fail("cannot read %s: %s", path, got == 0 ? "file shrank while reading" : strerror(errno));
        done += (size_t)got;
    }
    close(fd);
}

/* Validates the ELF header and locates the section header table. */
static void parse_header(struct image *image) {
    Elf64_Ehdr header;
    if (image->size < SELFMAG || memcmp(image->data, ELFMAG, SELFMAG) != 0)
        fail("%s: not an ELF file", image->path);
    if (image->size < sizeof header)
        fail("%s: truncated ELF header", image->path);
    memcpy(&header, image->data, sizeof header);
    if (header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_ident[EI_DATA] != ELFDATA2LSB)
        fail("%s: not an ELF64 little-endian file", image->path);
    if (header.e_shoff == 0)
        fail("%s: no section headers", image->path);
    if (header.e_shentsize != sizeof(Elf64_Shdr))
        fail("%s: unexpected section header size %u", image->path, header.e_shentsize);
    image->section_table = header.e_shoff;
    image->section_count = header.e_shnum;
    /* Past SHN_LORESERVE sections e_shnum is 0 and section 0's sh_size holds the count. */
    if (image->section_count == 0) {
        if (!in_bounds(header.e_shoff, sizeof(Elf64_Shdr), image->size))
            fail("%s: section headers lie outside the file", image->path);
        Elf64_Shdr first;
        memcpy(&first, image->data + header.e_shoff, sizeof first);
        image->section_count = first.sh_size;
    }
    if (image->section_table > image->size ||
        image->section_count > (image->size - image->section_table) / sizeof(Elf64_Shdr))
        fail("%s: section headers lie outside the file", image->path);
}

/* Fetches section `index` and checks that its contents lie inside the file. */
static Elf64_Shdr section(const struct image *image, uint64_t index) {
    if (index >= image->section_count)
        fail("%s: section index %llu out of range", image->path, (unsigned long long)index);
    Elf64_Shdr header;
    memcpy(&header, image->data + image->section_table + index * sizeof header, sizeof header);
    if (header.sh_type != SHT_NOBITS && !in_bounds(header.sh_offset, header.sh_size, image->size))
        fail("%s: section %llu lies outside the file", image->path, (unsigned long long)index);
    return header;
}

static int find_section(const struct image *image, uint32_t type, Elf64_Shdr *found) {
    for (uint64_t i = 0; i < image->section_count; i++) {
        *found = section(image, i);
        if (found->sh_type == type)
            return 1;
    }
    return 0;
}

/* The string table a version section names in sh_link. */
static Elf64_Shdr linked_strings(const struct image *image, const Elf64_Shdr *versions) {
    Elf64_Shdr strings = section(image, versions->sh_link);
    if (strings.sh_type != SHT_STRTAB)
        fail("%s: version section links to a non-string table", image->path);
    return strings;
}

static const char *string_at(const struct image *image, const Elf64_Shdr *strings, uint64_t offset) {
    const char *start = (const char *)image->data + strings->sh_offset;
    if (offset >= strings->sh_size || memchr(start + offset, '\0', strings->sh_size - offset) == NULL)
        fail("%s: string offset %llu outside its table", image->path, (unsigned long long)offset);
    return start + offset;
}

/* Copies `length` bytes at `offset` within a section, failing rather than reading outside it. */
static void read_record(const struct image *image, const Elf64_Shdr *within, uint64_t offset, void *record,
                        size_t length) {
    if (!in_bounds(offset, length, within->sh_size))
        fail("%s: version record at %llu overruns its section", image->path, (unsigned long long)offset);
    memcpy(record, image->data + within->sh_offset + offset, length);
}

/* File offset of the Vernaux for `version` under the Verneed of `library`; 0 when absent
 * (offset 0 is the ELF header, never a Vernaux). Entries are chained by relative offsets;
 * each step moves forward and read_record bounds it, so malformed chains still end. */
static uint64_t find_requirement(const struct image *image, const char *library, const char *version) {
    Elf64_Shdr needs;
    if (!find_section(image, SHT_GNU_verneed, &needs))
        return 0;
    Elf64_Shdr strings = linked_strings(image, &needs);
    uint64_t entry = 0;
    for (uint32_t i = 0; i < needs.sh_info; i++) {
        Elf64_Verneed need;
        read_record(image, &needs, entry, &need, sizeof need);
        if (strcmp(string_at(image, &strings, need.vn_file), library) == 0) {
            uint64_t aux = entry + need.vn_aux;
            for (uint32_t j = 0; j < need.vn_cnt; j++) {
                Elf64_Vernaux vernaux;
                read_record(image, &needs, aux, &vernaux, sizeof vernaux);
                if (strcmp(string_at(image, &strings, vernaux.vna_name), version) == 0)
                    return needs.sh_offset + aux;
                if (vernaux.vna_next == 0)
                    break;
                aux += vernaux.vna_next;
            }
        }
        if (need.vn_next == 0)
            break;
        entry += need.vn_next;
    }
    return 0;
}

/* Whether the image's .gnu.version_d defines `version`. A Verdef's first Verdaux names it;
 * later ones name parents, and the VER_FLG_BASE entry names the file itself. */
static int defines_version(const struct image *image, const char *version) {
    Elf64_Shdr definitions;
    if (!find_section(image, SHT_GNU_verdef, &definitions))
        return 0;
    Elf64_Shdr strings = linked_strings(image, &definitions);
    uint64_t entry = 0;
    for (uint32_t i = 0; i < definitions.sh_info; i++) {
        Elf64_Verdef definition;
        read_record(image, &definitions, entry, &definition, sizeof definition);
        if (!(definition.vd_flags & VER_FLG_BASE) && definition.vd_cnt > 0) {
            Elf64_Verdaux name;
            read_record(image, &definitions, entry + definition.vd_aux, &name, sizeof name);
            if (strcmp(string_at(image, &strings, name.vda_name), version) == 0)
                return 1;
        }
        if (definition.vd_next == 0)
            break;
        entry += definition.vd_next;
    }
    return 0;
}

/* Path of the LIBRARY the dynamic loader picks here, so the check sees what FILE will get. */
static char *loaded_path(const char *library) {
    void *handle = dlopen(library, RTLD_NOW);
    if (handle == NULL)
        fail("cannot load %s: %s", library, dlerror());
    struct link_map *map;
    if (dlinfo(handle, RTLD_DI_LINKMAP, &map) != 0 || map->l_name == NULL || *map->l_name == '\0')
        fail("cannot find where %s was loaded from", library);
    char *path = strdup(map->l_name);
    if (path == NULL)
        fail("out of memory");
    dlclose(handle);
    return path;
}

/* The temporary sits beside FILE so rename() replaces it atomically on the same file system. */
static void replace_file(const struct image *image) {
    char temporary[4096];
    if (snprintf(temporary, sizeof temporary, "%s.tmp.%ld", image->path, (long)getpid()) >= (int)sizeof temporary)
        fail("%s: path too long", image->path);
    int fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        fail("cannot create %s: %s", temporary, strerror(errno));
    size_t done = 0;
    while (done < image->size) {
        ssize_t written = write(fd, image->data + done, image->size - done);
        if (written <= 0)
            break;
        done += (size_t)written;
    }
    int failed = done < image->size || fchmod(fd, image->mode & 07777) != 0 || fsync(fd) != 0;
    failed |= close(fd) != 0;
    if (failed || rename(temporary, image->path) != 0) {
        int error = errno;
        unlink(temporary);
        fail("cannot replace %s: %s", image->path, strerror(error));
    }
}

int main(int argc, char **argv) {
    if (argc != 4)
        fail("usage: elf-weak-version FILE LIBRARY VERSION");
    const char *file = argv[1];
    const char *library = argv[2];
    const char *version = argv[3];

    char *real = realpath(file, NULL);
    if (real == NULL)
        fail("cannot read %s: %s", file, strerror(errno));
    /* The cache is shared by every project on the machine; only private copies may change. */
    if (strstr(real, "/.nuget/packages/") != NULL)
        fail("refusing to patch %s inside the NuGet cache; patch a copy", real);
    free(real);

    struct image target;
    read_image(file, &target);
    parse_header(&target);
    uint64_t requirement = find_requirement(&target, library, version);

    char *provider_path = loaded_path(library);
    struct image provider;
    read_image(provider_path, &provider);
    parse_header(&provider);
    if (defines_version(&provider, version)) {
        printf("elf-weak-version: %s provides %s; %s left unchanged\n", provider_path, version, file);
        return 0;
    }

    if (requirement == 0) {
        printf("elf-weak-version: %s does not require %s from %s; left unchanged\n", file, version, library);
        return 0;
    }
    Elf64_Half flags;
    unsigned char *flags_at = target.data + requirement + offsetof(Elf64_Vernaux, vna_flags);
    memcpy(&flags, flags_at, sizeof flags);
    if (flags & VER_FLG_WEAK) {
        printf("elf-weak-version: %s already requires %s from %s weakly; left unchanged\n", file, version, library);
        return 0;
    }
    flags |= VER_FLG_WEAK;
    memcpy(flags_at, &flags, sizeof flags);
    replace_file(&target);
    printf("elf-weak-version: %s: marked %s from %s weak (%s lacks it)\n", file, version, library, provider_path);
    return 0;
}
