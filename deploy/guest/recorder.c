// SPDX-License-Identifier: LGPL-2.1-or-later
//
// recorder: the lab's Linux guest workload (deploy/guest/build-guest puts it
// in the initramfs; /init runs it on /dev/vda). It proves a guest's
// continuity across a switchover: one boot_id for the whole run (no reboot),
// a counter that goes on, and every record it called acknowledged on disk.
//
// Once at start it prints
//   hasvc-rec start boot=<boot_id> dev=<dev> slot=<first slot> slots=<count> rec_ms=<pace>
// then writes record N = 1, 2, 3, ... one 512-byte slot each, with
// O_DIRECT|O_DSYNC (the write returns once the disk acknowledged it, FUA or a
// flush included), and only then prints
//   hasvc-rec N=<n> mono_ns=<CLOCK_MONOTONIC ns> boot=<boot_id>
// on its standard output, the console (ttyS0).
//
// On-disk layout (deploy/guest/records reads it; docs/lab-guest.md):
// slot i (i = 0, 1, ...) is the 512 bytes at REC_BASE + i * 512, up to the end
// of the disk. A slot holds, little-endian:
//   0   char[8]  magic "HASVCREC"
//   8   u32      version (1)
//   12  u32      record size (512)
//   16  u64      N (1 at each boot)
//   24  u64      CLOCK_MONOTONIC ns at the write
//   32  u64      CLOCK_REALTIME ns at the write
//   40  char[40] boot_id, 36 characters, NUL-padded
//   80  u8[424]  zero
//   504 u64      FNV-1a 64 of bytes 0..503
// A boot appends after the records already there (the first slot without a
// valid record), so the disk keeps every boot's records: a reboot shows as a
// second boot_id whose N starts again at 1. When the disk is full the
// recorder says so and stops writing (it exits 0; /init then idles).
//
// Like a real guest, it obeys the ACPI power button (`virsh shutdown`, a
// cold switchover's shutdown request): between two records it waits on the
// input devices (button.ko, evdev.ko) and on KEY_POWER prints
//   hasvc-rec poweroff after N=<last>
// and powers the VM off; every record it printed is on the disk already.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <dirent.h>
#include <linux/fs.h>
#include <linux/input.h>
#include <linux/reboot.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/reboot.h>
#include <time.h>
#include <unistd.h>

#define REC_SIZE 512
#define REC_BASE (1024 * 1024) // past sector 0 and any partition table
#define REC_MAGIC "HASVCREC"
#define REC_VERSION 1
#define BOOT_ID_LEN 36
#define SCAN_SLOTS 2048 // 1 MiB read at a time when looking for the end

static const char *rec_dev = "/dev/vda";
static unsigned rec_ms = 100;

static uint64_t fnv1a64(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void put_u32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

// A line on the console in one write(2), so lines of the kernel or of /init
// never land inside it.
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	ssize_t w = write(STDOUT_FILENO, line, (size_t)n);
	(void)w;
}

static int read_boot_id(char out[BOOT_ID_LEN + 1])
{
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, out, BOOT_ID_LEN);
	int err = n < 0 ? -errno : 0;
	close(fd);
	if (err)
		return err;
	if (n != BOOT_ID_LEN)
		return -EIO;
	out[BOOT_ID_LEN] = '\0';
	return 0;
}

// hasvc.rec_ms=MS and hasvc.rec_dev=PATH from the kernel command line: the
// kernel keeps dotted words to itself (module parameters), /proc/cmdline has them.
static void read_cmdline(void)
{
	static char buf[4096];
	int fd = open("/proc/cmdline", O_RDONLY);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (char *w = strtok(buf, " \n"); w; w = strtok(NULL, " \n")) {
		if (strncmp(w, "hasvc.rec_ms=", 13) == 0) {
			char *end;
			unsigned long v = strtoul(w + 13, &end, 10);
			if (*end == '\0' && v <= 3600000)
				rec_ms = (unsigned)v;
			else
				say("hasvc-rec warning: ignoring '%s'", w);
		} else if (strncmp(w, "hasvc.rec_dev=", 14) == 0) {
			rec_dev = w + 14;
		}
	}
}

static int record_valid(const unsigned char *r)
{
	return memcmp(r, REC_MAGIC, 8) == 0 && fnv1a64(r, REC_SIZE - 8) == get_u64(r + REC_SIZE - 8);
}

// The first slot that holds no valid record: where this boot appends.
static int find_end(int fd, uint64_t slots, unsigned char *buf, uint64_t *end)
{
	for (uint64_t s = 0; s < slots; s += SCAN_SLOTS) {
		uint64_t k = slots - s < SCAN_SLOTS ? slots - s : SCAN_SLOTS;
		ssize_t n = pread(fd, buf, k * REC_SIZE, (off_t)(REC_BASE + s * REC_SIZE));
		if (n < 0)
			return -errno;
		if ((uint64_t)n != k * REC_SIZE)
			return -EIO;
		for (uint64_t i = 0; i < k; i++) {
			if (!record_valid(buf + i * REC_SIZE)) {
				*end = s + i;
				return 0;
			}
		}
	}
	*end = slots;
	return 0;
}

static void fill_record(unsigned char *r, uint64_t n, const char *boot_id)
{
	memset(r, 0, REC_SIZE);
	memcpy(r, REC_MAGIC, 8);
	put_u32(r + 8, REC_VERSION);
	put_u32(r + 12, REC_SIZE);
	put_u64(r + 16, n);
	put_u64(r + 24, clock_ns(CLOCK_MONOTONIC));
	put_u64(r + 32, clock_ns(CLOCK_REALTIME));
	memcpy(r + 40, boot_id, BOOT_ID_LEN);
	put_u64(r + REC_SIZE - 8, fnv1a64(r, REC_SIZE - 8));
}

#define MAX_INPUTS 8
static struct pollfd inputs[MAX_INPUTS];
static nfds_t n_inputs;

// The input devices that can carry the power button (/dev/input/event*).
static void open_inputs(void)
{
	DIR *d = opendir("/dev/input");
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) && n_inputs < MAX_INPUTS) {
		if (strncmp(e->d_name, "event", 5) != 0)
			continue;
		int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_NONBLOCK);
		if (fd >= 0)
			inputs[n_inputs++] = (struct pollfd){ .fd = fd, .events = POLLIN };
	}
	closedir(d);
}

// True when a KEY_POWER press is among the events waiting on fd.
static int power_pressed(int fd)
{
	struct input_event ev[16];
	ssize_t n;
	while ((n = read(fd, ev, sizeof(ev))) > 0) {
		for (size_t i = 0; i < (size_t)n / sizeof(ev[0]); i++)
			if (ev[i].type == EV_KEY && ev[i].code == KEY_POWER && ev[i].value == 1)
				return 1;
	}
	return 0;
}

// Waits ms, or less when the power button is pressed: returns 1 then.
static int wait_ms(unsigned ms)
{
	uint64_t end = clock_ns(CLOCK_MONOTONIC) + (uint64_t)ms * 1000000ULL;
	for (;;) {
		uint64_t now = clock_ns(CLOCK_MONOTONIC);
		if (now >= end)
			return 0;
		int r = poll(inputs, n_inputs, (int)((end - now + 999999) / 1000000));
		if (r < 0 && errno != EINTR)
			return 0;
		for (nfds_t i = 0; r > 0 && i < n_inputs; i++)
			if ((inputs[i].revents & POLLIN) && power_pressed(inputs[i].fd))
				return 1;
	}
}

// The records are on the disk (O_DSYNC), nothing else is to flush.
static void power_off(uint64_t last)
{
	say("hasvc-rec poweroff after N=%" PRIu64, last);
	sync();
	reboot(LINUX_REBOOT_CMD_POWER_OFF);
	say("hasvc-rec error: power off failed: %s", strerror(errno));
	exit(1);
}

int main(int argc, char **argv)
{
	char boot_id[BOOT_ID_LEN + 1];
	read_cmdline();
	if (argc > 1)
		rec_dev = argv[1];
	int err = read_boot_id(boot_id);
	if (err) {
		say("hasvc-rec error: cannot read the boot_id: %s", strerror(-err));
		return 1;
	}
	int fd = open(rec_dev, O_RDWR | O_DIRECT | O_DSYNC);
	if (fd < 0) {
		say("hasvc-rec error: cannot open %s: %s", rec_dev, strerror(errno));
		return 1;
	}
	uint64_t bytes = 0;
	if (ioctl(fd, BLKGETSIZE64, &bytes) < 0) {
		say("hasvc-rec error: cannot size %s: %s", rec_dev, strerror(errno));
		return 1;
	}
	uint64_t slots = bytes > REC_BASE ? (bytes - REC_BASE) / REC_SIZE : 0;
	// O_DIRECT wants an aligned buffer; 4096 suits any logical block size.
	unsigned char *buf = aligned_alloc(4096, SCAN_SLOTS * REC_SIZE);
	if (!buf) {
		say("hasvc-rec error: out of memory");
		return 1;
	}
	uint64_t slot = 0;
	err = find_end(fd, slots, buf, &slot);
	if (err) {
		say("hasvc-rec error: cannot read %s: %s", rec_dev, strerror(-err));
		return 1;
	}
	open_inputs();
	say("hasvc-rec start boot=%s dev=%s slot=%" PRIu64 " slots=%" PRIu64 " rec_ms=%u inputs=%u", boot_id,
	    rec_dev, slot, slots, rec_ms, (unsigned)n_inputs);
	for (uint64_t n = 1;; n++, slot++) {
		if (slot >= slots) {
			say("hasvc-rec full: %" PRIu64 " slots used, no more records", slots);
			return 0;
		}
		fill_record(buf, n, boot_id);
		ssize_t w = pwrite(fd, buf, REC_SIZE, (off_t)(REC_BASE + slot * REC_SIZE));
		if (w != REC_SIZE) {
			// Not acknowledged: say so and try the same N again, for a disk
			// that comes back (an I/O error during a host's trouble) must
			// not end the proof.
			say("hasvc-rec error: write of N=%" PRIu64 " failed: %s", n,
			    w < 0 ? strerror(errno) : "short write");
			n--;
			slot--;
			if (wait_ms(1000))
				power_off(n);
			continue;
		}
		say("hasvc-rec N=%" PRIu64 " mono_ns=%" PRIu64 " boot=%s", n, get_u64(buf + 24), boot_id);
		if (wait_ms(rec_ms))
			power_off(n);
	}
}
