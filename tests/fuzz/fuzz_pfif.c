/*
 * PFIF files from partners. Beyond not crashing: whatever is read must
 * write as 1.4 and read back with the same number of records and no record
 * left out.
 */
#include <safety/pfif.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sf_pfif_doc *doc = NULL, *again = NULL;
	char err[300];
	size_t len;
	char *xml;

	if (sf_pfif_parse((const char *)data, size, &doc, err, sizeof err) != SF_OK)
		return 0;
	xml = sf_pfif_write(doc, &len);
	if (xml != NULL) {
		if (sf_pfif_parse(xml, len, &again, err, sizeof err) != SF_OK ||
		    again->n != doc->n || again->nproblems != 0)
			abort();
		sf_pfif_free(again);
		free(xml);
	}
	sf_pfif_free(doc);
	return 0;
}
