/* oss internals shared by the parsers, the error table and the client.
 *
 * XML handling rules (all parsers go through oss_xml_parse):
 *   - input is capped at OSS_XML_MAX_BYTES and must not carry a DOCTYPE,
 *     so no entity is ever declared, expanded or fetched;
 *   - libxml2 runs with XML_PARSE_NONET and without XML_PARSE_NOENT or
 *     DTD loading, its own size and depth limits left on (no HUGE);
 *   - text is gathered only from text and CDATA nodes, never through
 *     entity references.
 * Namespaces are ignored: the sample listings carry an xmlns and the S3
 * ones another, and element names are what identify a document.
 */
#ifndef OSSFS_OSS_I_H
#define OSSFS_OSS_I_H

#include <stdbool.h>
#include <stddef.h>

#include <libxml/tree.h>

#include "oss.h"

/* Largest response body any parser accepts. */
#define OSS_XML_MAX_BYTES ((size_t)16 << 20)
/* A listing page asks for at most 1000 keys; a page several times that
 * is not a server we understand, so it is refused rather than stored. */
#define OSS_LIST_MAX_ENTRIES 5000
/* Keys are at most 1023 bytes; anything much longer is refused. */
#define OSS_KEY_MAX_BYTES 4096

/* Parse xml into *doc (caller xmlFreeDoc()s) and return 0, or -EPROTO
 * for anything that is not a well-formed document within the limits.
 * When root_name is non-NULL the root element must have that name. */
int oss_xml_parse(const char *xml, size_t len, const char *root_name,
		  xmlDoc **doc);
/* True when n is an element with this local name. */
bool oss_xml_is(const xmlNode *n, const char *name);
/* First element child of parent with this name, or NULL. */
xmlNode *oss_xml_child(const xmlNode *parent, const char *name);
/* Append the text content of n (text and CDATA children only) to out. */
int oss_xml_text(const xmlNode *n, struct buf *out);
/* Text of the named child, trimmed, copied into out (always terminated).
 * -ENOENT when the child is missing, -ENAMETOOLONG when it does not
 * fit; out is "" in both cases. */
int oss_xml_child_str(const xmlNode *parent, const char *name, char *out,
		      size_t size);

/* Copy an ETag without surrounding white space and double quotes.
 * -EINVAL when empty, -ENAMETOOLONG when it does not fit (out is then
 * ""); a truncated ETag would silently fail every If-Match. */
int oss_etag_copy(char *out, size_t size, const char *etag, size_t len);
/* "Normal", "Multipart", "Appendable", "Symlink" (any case); anything
 * else is Normal, which is how S3 objects without a type read. */
enum oss_object_type oss_object_type_parse(const char *s);
/* Copy s into a fixed field, replacing control bytes by '?' so that
 * server text can be logged safely.  Truncates. */
void oss_copy_printable(char *out, size_t size, const char *s, size_t len);

#endif
