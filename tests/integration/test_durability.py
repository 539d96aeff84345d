"""Not one answer lost: PostgreSQL stopped during a sustained load of
replies and started again later; every acknowledged reply is in the
database afterwards, none twice, and safetyd never stopped answering. Then
a kill -9 of safetyd during an outage: the spooled replies still arrive.
And a status never falls behind its stored answers: an answer committed
just before safetyd died, or before its status write failed, reaches the
person's status at the next start."""

import json
import os
import signal
import threading
import time
import urllib.parse

from harness import (Cluster, Daemon, Session, check, counts_hold, ctl, demo_check_in, eventually, expect_equal,
                     http_request, record_secret, run)

# This test stops its database, so it has a cluster of its own.
cluster = Cluster.private()
DB = "t_durability"
PASSWORD = record_secret("Osmaniye-Kilis-2026-dur")
OUTAGE = float(os.environ.get("SAFETY_TEST_OUTAGE_SECONDS", "30"))


def setup():
    conninfo = cluster.createdb(DB)
    expect_equal(ctl(conninfo, "migrate").returncode, 0, "migrate")
    expect_equal(ctl(conninfo, "demo", "--country", "TR", "--people", "300", "--seed", "5").returncode, 0, "demo")
    state = os.path.join(os.environ.get("SAFETY_TEST_TMP", "/tmp"), "durability-state")
    os.makedirs(state, exist_ok=True)
    for f in os.listdir(state):
        os.unlink(os.path.join(state, f))
    keyfile = os.path.join(state, "token.key")
    with open(keyfile, "w") as f:
        f.write("1:" + "ab" * 32 + "\n")
    os.chmod(keyfile, 0o600)  # safetyd refuses keys others may read
    sections = {"auth": {"password_hash_cost": "10", "public_rate_per_second": "100000", "public_burst": "100000"},
                "database": {"query_timeout_ms": "2000"},
                "paths": {"state_dir": state}, "tokens": {"key_file": keyfile}}
    d = Daemon(conninfo, sections=sections).start()
    pw = os.path.join(state, "pw")
    with open(pw, "w") as f:
        f.write(PASSWORD + "\n")
    ctl(conninfo, "user", "add", "lead", "--role", "mission_lead", "--mission", "TR-ANK", "--password-file", pw)
    lead = Session(d, "lead", PASSWORD)
    crisis, links = demo_check_in(lead, cluster, DB, state, title="Outage drill", circle=(37.0, 37.0, 400000),
                                  drill=True)
    tokens = [links[n] for n in sorted(links)]
    return conninfo, d, sections, state, tokens, sorted(links), crisis


conninfo, d, SECTIONS, STATE, TOKENS, PEOPLE, CRISIS = setup()
for t in TOKENS:
    record_secret(t)


def post(daemon, token, status, ref):
    return http_request("POST", daemon.port, "/r/" + token,
                        body=urllib.parse.urlencode({"status": status, "message": ref}),
                        headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=15)


def stored(marker):
    return int(cluster.psql(DB, "SELECT count(*) FROM response WHERE raw_text LIKE '%s%%'" % marker))


def status_of(national_id):
    return cluster.psql(DB, "SELECT status FROM person_status WHERE crisis_id = %d AND national_id = %d" %
                        (CRISIS, national_id))


def count_of(status):
    return int(cluster.psql(DB, "SELECT coalesce(sum(n), 0) FROM status_count WHERE crisis_id = %d AND status = '%s'" %
                            (CRISIS, status)))


def metric(prefix):
    for line in d.get("/metrics").body.splitlines():
        if line.startswith(prefix + " "):
            return int(line.split()[1])
    return None


def caught_up():
    return metric("safety_status_caught_up_total")


def an_answer_committed_before_a_crash_reaches_its_status_at_the_next_start():
    global d
    # The first speaks for a household whose members are all still pending.
    head, size = map(int, cluster.psql(DB, (
        "SELECT min(n.id), count(*) FROM national n JOIN person_status p ON p.crisis_id = %d "
        " AND p.national_id = n.id WHERE n.household_id IS NOT NULL AND n.deleted_at IS NULL "
        "GROUP BY n.household_id HAVING count(*) BETWEEN 2 AND 5 AND bool_and(p.status = 'pending') "
        "ORDER BY 1 LIMIT 1") % CRISIS).split("|"))
    other = int(cluster.psql(DB, (
        "SELECT p.national_id FROM person_status p JOIN national n ON n.id = p.national_id "
        "WHERE p.crisis_id = %d AND p.status = 'pending' AND n.household_id <> (SELECT household_id "
        " FROM national WHERE id = %d) ORDER BY 1 LIMIT 1") % (CRISIS, head)))
    people = [head, other]
    help_before, safe_before, pending_before = count_of("needs_help"), count_of("safe"), count_of("pending")
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    d.proc = None
    # What a batch's commit leaves when the process dies before its status
    # write: the answers stored, the statuses as they were. The second person
    # answered twice, help then safe; the later answer counts.
    ids = cluster.psql(DB, (
        "WITH i AS (INSERT INTO response (crisis_id, national_id, mission_id, channel, raw_text, status, "
        " headcount, provider_ref, received_at) SELECT %d, n.id, n.mission_id, 'sms', a.text, a.status, a.hc, "
        " a.ref, now() + a.k * interval '1 second' FROM (VALUES (%d, 'help crash', 'needs_help', %d, 'crash-1', 0), "
        " (%d, 'help crash', 'needs_help', NULL, 'crash-2', 1), (%d, 'all fine now', 'safe', NULL, 'crash-3', 2)) "
        " AS a(nid, text, status, hc, ref, k) JOIN national n ON n.id = a.nid RETURNING id, national_id) "
        "SELECT id FROM i ORDER BY id") % (CRISIS, people[0], size, people[1], people[1])).split()
    expect_equal(len(ids), 3, "three answers stored behind safetyd's back")
    expect_equal(status_of(people[0]), "pending", "the status still lags")
    d = Daemon(conninfo, sections=SECTIONS).start()
    eventually(lambda: status_of(people[0]) == "needs_help" and status_of(people[1]) == "safe", timeout=15,
               what="the stored answers reach the statuses")
    expect_equal(cluster.psql(DB, "SELECT last_response_id, headcount FROM person_status WHERE crisis_id = %d "
                                  "AND national_id = %d" % (CRISIS, people[0])), "%s|%d" % (ids[0], size),
                 "newest answer, head count")
    # The household's proxies, which the dead process never made, are made now.
    eventually(lambda: cluster.psql(DB, (
        "SELECT count(*) FROM national n JOIN person_status p ON p.crisis_id = %d AND p.national_id = n.id "
        "WHERE n.household_id = (SELECT household_id FROM national WHERE id = %d) AND n.id <> %d "
        " AND p.status = 'needs_help' AND p.by_proxy") % (CRISIS, head, head)) == str(size - 1),
               timeout=15, what="every other household member needs help, by proxy")
    expect_equal(cluster.psql(DB, "SELECT last_response_id, confirm_safe FROM person_status WHERE crisis_id = %d "
                                  "AND national_id = %d" % (CRISIS, people[1])), "%s|t" % ids[2],
                 "in order: safe after a call for help, to be confirmed")
    expect_equal(count_of("needs_help"), help_before + size, "counts follow: needs help")
    expect_equal(count_of("safe"), safe_before + 1, "counts follow: safe")
    expect_equal(count_of("pending"), pending_before - 1 - size, "counts follow: pending")
    expect_equal(caught_up(), 3, "the three answers counted as caught up")
    # Everything is taken in: a second start finds nothing to apply.
    d.stop()
    d = Daemon(conninfo, sections=SECTIONS).start()
    time.sleep(2.5)
    expect_equal(caught_up(), 0, "nothing left to catch up")
    # A status that never recorded taking its answer in (so it was after an
    # upgrade) takes it in again; the household's proxies, already stored,
    # are not submitted a second time.
    d.stop()
    cluster.psql(DB, "UPDATE person_status SET last_response_id = NULL WHERE crisis_id = %d AND national_id = %d" %
                 (CRISIS, head))
    d = Daemon(conninfo, sections=SECTIONS).start()
    eventually(lambda: caught_up() == 1, timeout=15, what="the answer taken in again")
    time.sleep(1.5)
    expect_equal(metric('safety_replies_not_stored_total{channel="sms",outcome="duplicate"}'), 0,
                 "no proxy answer submitted twice")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM response WHERE provider_ref LIKE 'crash-1/proxy/%%'"),
                 str(size - 1), "the household's proxies, once each")
    expect_equal(cluster.psql(DB, "SELECT status, last_response_id FROM person_status WHERE crisis_id = %d "
                                  "AND national_id = %d" % (CRISIS, head)), "needs_help|%s" % ids[0],
                 "the status unchanged, the answer recorded")


def a_database_outage_under_load_loses_no_acknowledged_reply():
    acked = []
    errors = []
    stop = threading.Event()

    def load(worker):
        i = 0
        while not stop.is_set():
            token = TOKENS[(worker * 7 + i) % len(TOKENS)]
            ref = "load-%d-%d" % (worker, i)
            try:
                r = post(d, token, "safe" if i % 3 else "needs_help", ref)
                if r.status == 200:
                    acked.append(ref)
                else:
                    errors.append(r.status)
            except OSError as e:
                errors.append(str(e))
            i += 1

    threads = [threading.Thread(target=load, args=(w,), daemon=True) for w in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(3)
        before = len(acked)
        cluster.stop()
        t0 = time.time()
        time.sleep(OUTAGE)
        during = len(acked) - before
        eventually(lambda: json.loads(http_request("GET", d.port, "/readyz").body)["spool_depth"] > 0, timeout=5,
                   what="readyz shows the spool")
        cluster.start()
        time.sleep(5)
    finally:
        # The load stops whatever happened, so a failure cannot hang the test.
        stop.set()
        for t in threads:
            t.join(timeout=30)
    from collections import Counter
    print("  %d replies acknowledged (%d during the %.0f s outage), %d not acknowledged: %r" %
          (len(acked), during, time.time() - t0 - 5, len(errors), Counter(map(str, errors)).most_common(3)))
    check(during > 50, "safetyd kept answering during the outage (%d)" % during)
    spooled = metric('safety_replies_not_stored_total{channel="web",outcome="spooled"}')
    check(spooled is not None and spooled >= 0.9 * during,
          "spooled replies counted: %r, %d acknowledged during the outage" % (spooled, during))
    eventually(lambda: stored("load-") >= len(acked), timeout=60, what="every acknowledged reply stored")
    expect_equal(stored("load-"), len(set(acked)), "each stored once")
    dup = cluster.psql(DB, "SELECT count(*) FROM (SELECT raw_text FROM response WHERE raw_text LIKE 'load-%' "
                           "GROUP BY raw_text HAVING count(*) > 1) x")
    expect_equal(dup, "0", "no reply twice")
    eventually(lambda: json.loads(http_request("GET", d.port, "/readyz").body)["spool_depth"] == 0, timeout=30,
               what="spool emptied")
    # A batch whose commit the outage cut off, or whose status write failed,
    # still ends in its people's statuses.
    eventually(lambda: cluster.psql(DB, (
        "SELECT count(*) FROM (SELECT DISTINCT national_id FROM response WHERE crisis_id = %d "
        " AND raw_text LIKE 'load-%%') r JOIN person_status p ON p.crisis_id = %d "
        " AND p.national_id = r.national_id WHERE p.status = 'pending'") % (CRISIS, CRISIS)) == "0",
               timeout=30, what="no one who answered is still pending")
    counts_hold(cluster, DB, CRISIS)


def spool_depth():
    return json.loads(http_request("GET", d.port, "/readyz").body)["spool_depth"]


def a_reply_the_database_refuses_holds_up_no_other():
    # A reply the database refuses (a trigger stands in for any such fault)
    # shares its batch with others: they are stored, it alone fails.
    cluster.psql(DB, """
CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.raw_text LIKE 'poison%' THEN RAISE EXCEPTION 'poisoned'; END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER poison BEFORE INSERT ON response FOR EACH ROW EXECUTE FUNCTION poison();""")
    try:
        results = {}
        gate = threading.Barrier(12)

        def answer(i, text):
            gate.wait()
            results[text] = post(d, TOKENS[(100 + i) % len(TOKENS)], "safe", text).status

        threads = [threading.Thread(target=answer, args=(i, "poison-1" if i == 0 else "shared-%d" % i))
                   for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        expect_equal(results.pop("poison-1"), 503, "the refused reply is not acknowledged")
        expect_equal(sorted(set(results.values())), [200], "every other reply acknowledged")
        expect_equal(stored("shared-"), 11, "and stored")
        # While the database is away the same reply is spooled and acknowledged;
        # its replay fails, goes back to the spool, and holds up no other.
        cluster.stop()
        expect_equal(post(d, TOKENS[120 % len(TOKENS)], "needs_help", "poison-2").status, 200, "spooled")
        for i in range(5):
            expect_equal(post(d, TOKENS[(121 + i) % len(TOKENS)], "needs_help", "after-poison-%d" % i).status, 200, "spooled")
        cluster.start()
        eventually(lambda: stored("after-poison-") == 5, timeout=30, what="the replies after it arrive")
        time.sleep(3)
        expect_equal(spool_depth(), 1, "the refused one waits in the spool")
        expect_equal(stored("poison-"), 0, "not stored yet")
    finally:
        cluster.psql(DB, "DROP TRIGGER poison ON response; DROP FUNCTION poison()")
    eventually(lambda: stored("poison-2") == 1, timeout=30, what="stored once the fault is gone")
    eventually(lambda: spool_depth() == 0, timeout=10, what="spool empty")
    eventually(lambda: status_of(int(cluster.psql(DB, "SELECT national_id FROM response WHERE raw_text = 'poison-2'")))
               == "needs_help", timeout=10, what="its status written")
    check(not any(f.startswith("reply-spool.replay.damaged") for f in os.listdir(STATE)), "no file set aside")


def an_answer_whose_status_write_failed_counts_after_a_newer_one():
    # The duress answer is stored but its status write fails, and so do the
    # catch-up's first two tries (a second apart); the person's next answer,
    # which carries no duress, is written meanwhile. The duress answer must
    # still reach the status, though it is older.
    k = 200 % len(TOKENS)
    nid = PEOPLE[k]
    lead = Session(d, "lead", PASSWORD)
    expect_equal(lead.post("/api/v1/nationals/%d/duress-word" % nid, {"word": "해바라기"}).status, 204, "word")
    cluster.psql(DB, """
CREATE SEQUENCE fail_status;
GRANT USAGE ON SEQUENCE fail_status TO PUBLIC;
CREATE FUNCTION fail_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.national_id = %d AND NEW.duress THEN
		IF nextval('fail_status') <= 3 THEN RAISE EXCEPTION 'injected'; END IF;
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER fail_status BEFORE INSERT OR UPDATE ON person_status FOR EACH ROW EXECUTE FUNCTION fail_status();
""" % nid)
    try:
        expect_equal(post(d, TOKENS[k], "safe", "괜찮아요 해바라기").status, 200, "duress answer")
        # At least its write and the catch-up's first try failed: the last try
        # that fails is a second away, the one that succeeds another.
        eventually(lambda: int(cluster.psql(DB, "SELECT last_value FROM fail_status")) >= 2, timeout=5,
                   what="its write and the catch-up's first try failed")
        expect_equal(post(d, TOKENS[k], "safe", "all fine now").status, 200, "a newer answer")
        eventually(lambda: cluster.psql(DB, "SELECT status, duress FROM person_status WHERE crisis_id = %d "
                                            "AND national_id = %d" % (CRISIS, nid)) == "safe|t",
                   timeout=10, what="duress raised though a newer answer was written first")
    finally:
        cluster.psql(DB, "DROP TRIGGER fail_status ON person_status; DROP FUNCTION fail_status(); "
                         "DROP SEQUENCE fail_status")


def an_answer_whose_status_write_always_fails_holds_up_no_other():
    # x's status can never be written (a broken trigger stands in for any such
    # fault); y's write fails once. The catch-up must still bring y's status
    # to their answer, and x's once the fault is gone.
    x, y = PEOPLE[210 % len(PEOPLE)], PEOPLE[211 % len(PEOPLE)]
    cluster.psql(DB, """
CREATE SEQUENCE fail_once;
GRANT USAGE ON SEQUENCE fail_once TO PUBLIC;
CREATE FUNCTION fail_x() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.national_id = %d OR (NEW.national_id = %d AND nextval('fail_once') <= 1) THEN
		RAISE EXCEPTION 'injected';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER fail_x BEFORE INSERT OR UPDATE ON person_status FOR EACH ROW EXECUTE FUNCTION fail_x();
""" % (x, y))
    try:
        expect_equal(post(d, TOKENS[210 % len(TOKENS)], "injured", "x-injured").status, 200, "x")
        expect_equal(post(d, TOKENS[211 % len(TOKENS)], "injured", "y-injured").status, 200, "y")
        eventually(lambda: status_of(y) == "injured", timeout=15, what="y's status, past x's failing one")
        check(status_of(x) != "injured", "x's write still fails")
        # Only x's batch stays named in status_pending: y's goes though x's still fails. (Rows of
        # the outage's unconfirmed commits may still be there: they are looked at after a minute.)
        eventually(lambda: pending_rows_of("y-injured") == 0 and pending_rows_of("x-injured") == 1, timeout=10,
                   what="y's batch done, x's kept")
    finally:
        cluster.psql(DB, "DROP TRIGGER fail_x ON person_status; DROP FUNCTION fail_x(); DROP SEQUENCE fail_once")
    eventually(lambda: status_of(x) == "injured", timeout=15, what="x's status once the fault is gone")
    eventually(lambda: pending_rows_of("x-injured") == 0, timeout=10, what="and its batch done")


def pending_rows_of(marker):
    """The status_pending rows that name an answer whose text starts with marker."""
    return int(cluster.psql(DB, "SELECT count(DISTINCT p.id) FROM status_pending p JOIN response r "
                                "ON r.id = ANY (p.response_ids) WHERE r.raw_text LIKE '%s%%'" % marker))


def kill_9_during_an_outage_keeps_the_spool():
    global d
    cluster.stop()
    acked = []
    for i in range(40):
        r = post(d, TOKENS[i % len(TOKENS)], "safe", "killed-%d" % i)
        if r.status == 200:
            acked.append(i)
    check(len(acked) == 40, "every reply acknowledged while the database was down: %d" % len(acked))
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    d.proc = None
    check(os.path.getsize(os.path.join(STATE, "reply-spool")) > 0 or
          os.path.exists(os.path.join(STATE, "reply-spool.replay")), "spool on disk")
    cluster.start()
    d = Daemon(conninfo, sections=SECTIONS).start()
    eventually(lambda: stored("killed-") == 40, timeout=60, what="spooled replies arrive after restart")
    time.sleep(2)
    expect_equal(stored("killed-"), 40, "and only once")


def a_record_torn_by_a_kill_holds_back_no_answer_acknowledged_after_it():
    # Answers spooled, then a kill -9 that leaves a record's head without its
    # payload; answers acknowledged after the restart must not sit behind it.
    # Damaged bytes between two whole records are skipped at replay.
    global d
    cluster.stop()
    for i in range(3):
        expect_equal(post(d, TOKENS[(200 + i) % len(TOKENS)], "needs_help", "torn-before-%d" % i).status, 200,
                     "spooled")
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    d.proc = None
    path = os.path.join(STATE, "reply-spool")
    with open(path, "rb") as f:
        data = f.read()
    first = 16 + int.from_bytes(data[4:8], "big")
    with open(path, "wb") as f:
        f.write(data[:first] + b"\x00garbage" + data[first:] + b"SFR1" + (400).to_bytes(4, "big") + b"\0" * 8)
    d = Daemon(conninfo, sections=SECTIONS, migrate=False).start(wait_ready=False)
    for i in range(3):
        expect_equal(post(d, TOKENS[(210 + i) % len(TOKENS)], "injured", "torn-after-%d" % i).status, 200,
                     "spooled after the restart")
    cluster.start()
    eventually(lambda: stored("torn-") == 6, timeout=60, what="all six answers stored: %d" % stored("torn-"))
    check("spool_torn_tail_cut" in d.log(), "the torn tail cut at the start")
    torn = [f for f in os.listdir(STATE) if f.startswith("reply-spool.torn.")]
    check(len(torn) == 1 and os.path.getsize(os.path.join(STATE, torn[0])) == 16, "the bytes cut kept: %r" % torn)
    # Named by time and process, so two starts in one second keep both.
    check(torn[0].endswith(".%d" % d.proc.pid), "the aside names its process: %r" % torn)
    eventually(lambda: any(f.startswith("reply-spool.replay.damaged") for f in os.listdir(STATE)), timeout=10,
               what="the damaged bytes kept for a person to look at")
    expect_equal(stored("torn-after-"), 3, "the answers after the restart")


def a_spool_file_that_cannot_be_read_whole_is_kept():
    # A set-aside file that cannot be read (here a directory: every read
    # fails) is neither taken for empty nor removed, and says so.
    replay = os.path.join(STATE, "reply-spool.replay")
    os.mkdir(replay)
    with open(os.path.join(replay, "keep"), "w") as f:
        f.write("x")
    mark = len(d.log())
    try:
        eventually(lambda: "spool_read_failed" in d.log()[mark:], timeout=10, what="the read failure logged")
        time.sleep(1.5)
        check("spool_replayed" not in d.log()[mark:], "not taken for a file replayed")
        check(os.path.exists(os.path.join(replay, "keep")), "kept")
    finally:
        os.unlink(os.path.join(replay, "keep"))
        os.rmdir(replay)


def an_answer_left_by_a_crash_counts_though_a_newer_one_is_written_first():
    # A process died after committing answers and before writing their
    # statuses; what its store statement left is the answers and their row in
    # status_pending. The same people answer again through a process that
    # lives on, or through the dead one started again, and those newer
    # answers' statuses are written first. The older answers must still
    # count: an answer under duress, then a plain "safe", still raises duress.
    global d

    def leave_behind(people, tag, age):
        ids = cluster.psql(DB, (
            "INSERT INTO response (crisis_id, national_id, mission_id, channel, raw_text, status, provider_ref, "
            " duress) "
            "SELECT %d, id, mission_id, 'sms', 'fine', 'safe', '%s-' || id, true FROM national "
            "WHERE id IN (%s) RETURNING id") % (CRISIS, tag, ",".join(map(str, people)))).split()
        cluster.psql(DB, "INSERT INTO status_pending (response_ids, created_at) VALUES "
                         "('{%s}', now() - interval '%d seconds')" % (",".join(ids), age))

    def statuses(people):
        return cluster.psql(DB, "SELECT national_id, status, duress FROM person_status "
                                "WHERE crisis_id = %d AND national_id IN (%s) ORDER BY 1" %
                            (CRISIS, ",".join(map(str, people))))

    def answer_again(ks, tag):
        for k in ks:
            expect_equal(post(d, TOKENS[k], "safe", tag).status, 200, "a newer answer")

    fresh = [int(x) for x in cluster.psql(DB, (
        "SELECT national_id FROM person_status WHERE crisis_id = %d AND NOT duress "
        " AND national_id IN (%s) ORDER BY 1 LIMIT 12") %
        (CRISIS, ",".join(map(str, PEOPLE)))).split()]
    expect_equal(len(fresh), 12, "people to answer")
    # Another process died two minutes ago; this one lives on.
    people = fresh[:6]
    ks = [PEOPLE.index(p) for p in people]
    leave_behind(people, "died", 120)
    answer_again(ks, "window-live")
    eventually(lambda: statuses(people) == "\n".join("%d|safe|t" % p for p in sorted(people)), timeout=20,
               what="the dead process's answers taken in after the newer ones")
    # This process dies and starts again; the answers come at once.
    people = fresh[6:]
    ks = [PEOPLE.index(p) for p in people]
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    d.proc = None
    leave_behind(people, "restarted", 0)
    d = Daemon(conninfo, sections=SECTIONS, migrate=False).start(wait_ready=False)
    answer_again(ks, "window-restart")
    eventually(lambda: statuses(people) == "\n".join("%d|safe|t" % p for p in sorted(people)), timeout=20,
               what="the answers its last life left taken in")
    # Every batch's row goes once its statuses are written.
    eventually(lambda: pending_rows_of("fine") + pending_rows_of("window-") == 0, timeout=10,
               what="the rows of these answers gone from status_pending")
    # The first start reads every row, so what the outage's unconfirmed commits left goes too;
    # then a look finds nothing left behind.
    eventually(lambda: cluster.psql(DB, "SELECT count(*) FROM status_pending") == "0", timeout=30,
               what="nothing left in status_pending")
    eventually(lambda: metric("safety_status_pending_oldest_seconds") == 0, timeout=15,
               what="nothing left behind at the next look")
    counts_hold(cluster, DB, CRISIS)

try:
    run([an_answer_committed_before_a_crash_reaches_its_status_at_the_next_start,
         a_database_outage_under_load_loses_no_acknowledged_reply, a_reply_the_database_refuses_holds_up_no_other,
         an_answer_whose_status_write_failed_counts_after_a_newer_one,
         an_answer_whose_status_write_always_fails_holds_up_no_other, kill_9_during_an_outage_keeps_the_spool,
         a_record_torn_by_a_kill_holds_back_no_answer_acknowledged_after_it,
         a_spool_file_that_cannot_be_read_whole_is_kept,
         an_answer_left_by_a_crash_counts_though_a_newer_one_is_written_first])
finally:
    d.stop()
    cluster.destroy()
