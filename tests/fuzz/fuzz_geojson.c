/* JSON request bodies: a crisis's area as staff or a script send it (GeoJSON polygon or
 * multipolygon). */
#include "geojson_check.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *doc = cJSON_ParseWithLength((const char *)data, size);

	if (doc != NULL) {
		(void)geojson_area_ok(doc);
		cJSON_Delete(doc);
	}
	return 0;
}
