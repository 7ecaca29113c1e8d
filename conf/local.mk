# Configuration, the nginx template and site, the systemd unit.
runboxconfdir = $(sysconfdir)/runbox
dist_runboxconf_DATA = conf/runboxd.json conf/languages.json conf/nginx.conf.in
dist_noinst_SCRIPTS += conf/run.sh
EXTRA_DIST += conf/runboxd.service.in conf/runbox-site.conf.in conf/nginx-front.conf.in

# Files with installation paths in them are made at build time (the paths
# can change until then: make prefix=...).
edit = sed -e 's|@sbindir[@]|$(sbindir)|g' -e 's|@sysconfdir[@]|$(sysconfdir)|g' \
	-e 's|@datadir[@]|$(datadir)|g'
conf/runboxd.service: $(srcdir)/conf/runboxd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) conf && $(edit) $(srcdir)/conf/runboxd.service.in > $@
# The site's limits and timeouts come from the shipped runboxd.json, through
# the same `runboxd --render` that `make run` uses (one place derives them).
# The template is installed beside it, to render again after a config change.
conf/runbox-site.conf.template: $(srcdir)/conf/runbox-site.conf.in Makefile
	$(AM_V_GEN)$(MKDIR_P) conf && $(edit) $(srcdir)/conf/runbox-site.conf.in > $@
conf/runbox-site.conf: conf/runbox-site.conf.template $(srcdir)/conf/runboxd.json \
		$(srcdir)/conf/languages.json service/runboxd$(EXEEXT)
	$(AM_V_GEN)service/runboxd$(EXEEXT) --config $(srcdir)/conf/runboxd.json \
		--render conf/runbox-site.conf.template --addr 127.0.0.1 --port 8080 \
		--www '$(datadir)/runbox/www' > $@.tmp && mv $@.tmp $@
CLEANFILES += conf/runboxd.service conf/runbox-site.conf conf/runbox-site.conf.tmp \
	conf/runbox-site.conf.template

systemdunitdir = $(prefix)/lib/systemd/system
systemdunit_DATA = conf/runboxd.service
nginxsitedir = $(datadir)/runbox/nginx
nginxsite_DATA = conf/runbox-site.conf conf/runbox-site.conf.template

# The playground, served by nginx.
wwwdir = $(datadir)/runbox/www
dist_www_DATA = www/index.html www/style.css www/favicon.svg
wwwjsdir = $(wwwdir)/js
dist_wwwjs_DATA = www/js/api.js www/js/editor.js www/js/format.js www/js/limits.js \
	www/js/main.js www/js/result.js www/js/state.js www/js/files.js www/js/tests.js

dist_man_MANS = docs/runboxd.8
EXTRA_DIST += docs/API.md docs/openapi.yaml docs/LANGUAGES.md
