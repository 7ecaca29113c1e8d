# librunbox: everything runboxd does, as a convenience library linked by the
# daemon and by the Check suites.
noinst_LTLIBRARIES += service/librunbox.la
service_librunbox_la_SOURCES = \
	service/base64.c service/base64.h \
	service/utf8.c service/utf8.h \
	service/workdir.c service/workdir.h \
	service/jsonx.c service/jsonx.h \
	service/jsonmem.c service/jsonmem.h \
	service/limits.c service/limits.h \
	service/idclaim.c service/idclaim.h \
	service/settings.c service/settings.h \
	service/languages.c service/languages.h \
	service/request.c service/request.h \
	service/response.c service/response.h \
	service/stream.c service/stream.h \
	service/execute.c service/execute.h \
	service/pool.c service/pool.h \
	service/slot.c service/slot.h \
	service/slotbox.c service/slotbox.h \
	service/quota.c service/quota.h \
	service/api.c service/api.h \
	service/log.c service/log.h \
	service/server.c service/server.h
service_librunbox_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(FCGI_CFLAGS) $(SODIUM_CFLAGS) \
	$(SQLITE_CFLAGS) $(CURL_CFLAGS) -pthread
service_librunbox_la_LIBADD = sandbox/libsandbox.la $(JANSSON_LIBS) $(FCGI_LIBS) $(SODIUM_LIBS) \
	$(SQLITE_LIBS) $(CURL_LIBS) -lpthread

sbin_PROGRAMS += service/runboxd
service_runboxd_SOURCES = service/main.c
service_runboxd_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(FCGI_CFLAGS) $(CURL_CFLAGS)
service_runboxd_LDADD = service/librunbox.la
service_librunbox_la_SOURCES += \
	service/auth.c service/auth.h \
	service/metrics.c service/metrics.h \
	service/judge.c service/judge.h \
	service/jobstore.c service/jobstore.h \
	service/jobs.c service/jobs.h \
	service/runner.c service/runner.h \
	service/callback.c service/callback.h
