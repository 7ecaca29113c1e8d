# librunbox: everything runboxd does, as a convenience library linked by the
# daemon and by the Check suites.
noinst_LTLIBRARIES += service/librunbox.la
service_librunbox_la_SOURCES = \
	service/b64.c service/b64.h \
	service/utf8.c service/utf8.h \
	service/workdir.c service/workdir.h
service_librunbox_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(FCGI_CFLAGS)
service_librunbox_la_LIBADD = sandbox/libsandbox.la $(JANSSON_LIBS) $(FCGI_LIBS)
