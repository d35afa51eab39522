/* Fuzz the multipart, copy and delete parsers on the input, and the two
 * request builders on keys/ETags cut from it: whatever a builder accepts
 * must come back, byte for byte, from a plain libxml2 parse. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "oss.h"

#define MAX_KEYS 1000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void parse_all(const char *xml, size_t size)
{
	char *upload_id = NULL;
	char etag[80];
	struct oss_error e;
	size_t failed;

	if (oss_mp_parse_initiate_xml(xml, size, &upload_id) == 0 &&
	    (!upload_id || !upload_id[0]))
		abort();
	free(upload_id);
	oss_error_clear(&e);
	if (oss_parse_etag_result_xml(xml, size, etag, sizeof(etag), &e) == 0 &&
	    !etag[0])
		abort();
	(void)oss_parse_delete_result_xml(xml, size, &failed);
}

/* The text of every <tag> element under the root, in order. */
static size_t collect(const char *xml, size_t len, const char *outer,
		      const char *tag, xmlChar **out)
{
	xmlDoc *doc = xmlReadMemory(xml, (int)len, NULL, "UTF-8",
				    XML_PARSE_NONET | XML_PARSE_NOERROR |
					    XML_PARSE_NOWARNING);
	size_t n = 0;

	if (!doc)
		abort();
	for (xmlNode *o = xmlDocGetRootElement(doc)->children; o; o = o->next) {
		if (o->type != XML_ELEMENT_NODE ||
		    strcmp((const char *)o->name, outer) != 0)
			continue;
		for (xmlNode *k = o->children; k; k = k->next)
			if (k->type == XML_ELEMENT_NODE &&
			    strcmp((const char *)k->name, tag) == 0 &&
			    n < MAX_KEYS)
				out[n++] = xmlNodeGetContent(k);
	}
	xmlFreeDoc(doc);
	return n;
}

/* Split the input into NUL-terminated lines (at most MAX_KEYS). */
static size_t split(char *text, const char **lines)
{
	size_t n = 0;
	char *p = text;

	while (n < MAX_KEYS) {
		char *nl = strchr(p, '\n');

		lines[n++] = p;
		if (!nl)
			break;
		*nl = '\0';
		p = nl + 1;
	}
	return n;
}

static void check_delete(const char **keys, size_t n)
{
	static xmlChar *got[MAX_KEYS];
	struct buf b;
	size_t m;

	buf_init(&b, 0);
	if (oss_build_delete_xml(keys, n, n & 1, &b) == 0) {
		m = collect(b.data, b.len, "Object", "Key", got);
		if (m != n)
			abort();
		for (size_t i = 0; i < m; i++) {
			if (strcmp((const char *)got[i], keys[i]) != 0)
				abort();
			xmlFree(got[i]);
		}
	} else if (b.len) {
		abort();
	}
	buf_fini(&b);
}

static void check_complete(const char **etags, size_t n)
{
	static struct oss_part parts[MAX_KEYS];
	static xmlChar *got[MAX_KEYS];
	struct buf b;
	size_t m;

	for (size_t i = 0; i < n; i++) {
		parts[i].number = (int)(i * 7 + 1);
		snprintf(parts[i].etag, sizeof(parts[i].etag), "%s", etags[i]);
	}
	buf_init(&b, 0);
	if (oss_mp_build_complete_xml(parts, n, &b) == 0) {
		m = collect(b.data, b.len, "Part", "ETag", got);
		if (m != n)
			abort();
		for (size_t i = 0; i < m; i++)
			xmlFree(got[i]);
	}
	buf_fini(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *lines[MAX_KEYS];
	char *text;
	size_t n;

	log_set_level(LOG_LVL_ERR);
	parse_all((const char *)data, size);
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	n = split(text, lines);
	check_delete(lines, n);
	check_complete(lines, n);
	free(text);
	return 0;
}
