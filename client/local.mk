# runbox: the command-line client (libcurl + jansson + libsodium).  Self-contained: it
# shares no code with the daemon, so it builds wherever libcurl does.
bin_PROGRAMS += client/runbox
client_runbox_SOURCES = client/runbox.c
client_runbox_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS) $(JANSSON_CFLAGS) $(SODIUM_CFLAGS)
client_runbox_LDADD = $(CURL_LIBS) $(JANSSON_LIBS) $(SODIUM_LIBS)
dist_man1_MANS = client/runbox.1
EXTRA_DIST += client/python/setup.py client/python/runbox/__init__.py \
	client/python/runbox/_client.py client/python/runbox/_types.py
