runboxconfdir = $(sysconfdir)/runbox
dist_runboxconf_DATA = conf/runboxd.json conf/languages.json conf/nginx.conf.in
dist_noinst_SCRIPTS += conf/run.sh
