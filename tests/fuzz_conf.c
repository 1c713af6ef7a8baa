/*
 * fuzz_conf: libFuzzer harness for the configuration file and run_window
 * (make fuzz): the input is loaded as a config file, and given to
 * window_parse as a value.
 */
#include "fuzz.h"
#include "window.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_init();
	return 0;
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct window ws[MAX_WINDOWS];
	char path[PATH_MAX], err[512], *s;
	struct conf c;
	size_t i;
	int n;

	fz_put(fz_dir, "conf", data, size);
	snprintf(path, sizeof(path), "%s/conf", fz_dir);
	if (conf_load(&c, path, err, sizeof(err)) == 0) {
		conf_nproc(&c);
		/* Each section found by its name, and its file by it. */
		for (i = 0; i < c.nsections; i++)
			if (conf_section(&c, c.sections[i].name) !=
			    &c.sections[i] || conf_file(&c.sections[i]) != &c ||
			    c.sections[i].run_dir == NULL)
				abort();
		conf_wipe_secret(&c);
		conf_free(&c);
	} else if (strlen(err) >= sizeof(err))
		abort();
	if ((s = fz_string(data, size)) != NULL) {
		if (window_parse(ws, &n, s, err, sizeof(err)) == 0 &&
		    (n < 0 || n > MAX_WINDOWS))
			abort();
		window_zone_valid(s);
		free(s);
	}
	return 0;
}
