// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mirror_memory: whether this host has the memory for one more backup.
 *
 * A paused backup costs little until it is promoted; then it needs all of
 * its guest's memory at once, on a host that has just lost a peer: the worst
 * moment to find out the memory is not there. So the backup host checks when
 * the backup is prepared, and refuses it unless
 *
 *     MemAvailable - memory of the other paused backups here - reserve >= memory of the VM
 *
 * MemAvailable (/proc/meminfo) already counts what running guests use. A
 * paused backup has touched almost none of its guest's RAM, so it does not
 * show there: the other backups on this host are added up from their
 * definitions (their promotion needs that memory too). The backup being
 * replaced (same name) is not counted twice. The reserve is what the operator
 * keeps for the host itself (`memory_reserve`).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mirror_memory.h"
#include "mirror_xml.h"

#define MIB (1024 * 1024)

int mirror_memory_available(const char *meminfo, uint64_t *ret_bytes)
{
	const char *line = strstr(meminfo, "MemAvailable:");
	unsigned long long kib;

	/* (a "MemAvailable:" that is not at a line start would be another key) */
	if (!line || (line != meminfo && line[-1] != '\n') ||
	    sscanf(line, "MemAvailable: %llu kB", &kib) != 1)
		return -EINVAL;
	*ret_bytes = (uint64_t)kib * 1024;
	return 0;
}

static int meminfo_available(uint64_t *ret_bytes)
{
	char buf[8192];
	FILE *f = fopen("/proc/meminfo", "re");
	size_t n;

	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return mirror_memory_available(buf, ret_bytes);
}

/* The memory promised to the paused hasvc backups on this host, VM's own excepted. */
static uint64_t backups_promised(virConnectPtr conn, const char *vm, unsigned *ret_count)
{
	virDomainPtr *doms = NULL;
	uint64_t sum = 0;
	int n = virConnectListAllDomains(conn, &doms, VIR_CONNECT_LIST_DOMAINS_PAUSED);

	*ret_count = 0;
	for (int i = 0; i < n; i++) {
		const char *name = virDomainGetName(doms[i]);
		char *xml = NULL;

		if (name && strcmp(name, vm) != 0 &&
		    (xml = virDomainGetXMLDesc(doms[i], VIR_DOMAIN_XML_INACTIVE)) &&
		    mirror_xml_is_backup(xml)) {
			sum += (uint64_t)virDomainGetMaxMemory(doms[i]) * 1024;
			(*ret_count)++;
		}
		free(xml);
		virDomainFree(doms[i]);
	}
	free(doms);
	return sum;
}

int mirror_memory_check(virConnectPtr conn, const char *vm, uint64_t need, uint64_t reserve,
			char *msg, size_t len)
{
	uint64_t available, promised, left;
	unsigned backups;
	int r = meminfo_available(&available);

	if (r < 0) {
		snprintf(msg, len, "cannot read MemAvailable from /proc/meminfo: %s", strerror(-r));
		return -EIO;
	}
	promised = backups_promised(conn, vm, &backups);
	left = available > promised + reserve ? available - promised - reserve : 0;
	if (left >= need)
		return 0;
	snprintf(msg, len,
		 "not enough memory for the backup of %s: it needs %" PRIu64 " MiB, this host "
		 "has %" PRIu64 " MiB (MemAvailable %" PRIu64 " MiB, minus %" PRIu64
		 " MiB for %u other backup(s) here, minus memory_reserve %" PRIu64 " MiB)",
		 vm, need / MIB, left / MIB, available / MIB, promised / MIB, backups,
		 reserve / MIB);
	return -ENOMEM;
}
