// Korean and English for every word the dashboard shows; the choice is kept per browser.
const words = {
  ko: {
    title: "안전 확인", login: "로그인", logout: "로그아웃", username: "사용자 이름", password: "비밀번호",
    login_failed: "로그인하지 못했습니다", crises: "위기 상황", no_crises: "진행 중인 위기가 없습니다",
    more_shown: "더 보기 ({n}명 표시 중)",
    drill: "훈련", people: "명", answers_per_minute: "분당 응답", regions: "지역별 응답률", map: "지도",
    live: "실시간", reconnecting: "다시 연결 중", back: "목록으로", response_rate: "응답률",
    unknown_region: "지역 미상", needs_review: "확인 필요", call_list: "전화 목록", nobody: "해당자 없음",
    name: "이름", last_answer: "마지막 응답", contacts: "연락처", record_call: "통화 결과", by_phone: "전화로 확인", status_stays: "기록했지만 상태는 그대로:",
    evacuation: "대피", run_plan: "대피 계획 세우기", publish: "발표", print: "명단 인쇄", plan: "계획",
    groups: "그룹", group: "그룹", gap: "하한과의 차이", gap_none: "해당 없음 (이 계획에는 하한이 적용되지 않음)", plan_cancellations: "명에게 이전 계획 취소 안내", published: "발표됨", planning: "계획 중",
    plan_failed: "계획하지 못했습니다", give_up_plan: "계획 중단", plan_undelivered: "전달되지 않은 대피 안내",
    gather_at: "집결지", no_assembly_points: "열린 집결지 없음", plan_busy: "다른 계획을 만드는 중입니다. 다시 시도까지",
    messages: "건 발송", not_recorded: "기록하지 못했습니다", checking: "확인하는 중:", importing: "가져오는 중:",
    known_places: "곳의 위치 기록", source_registration: "등록", source_import: "명부", source_itinerary: "여정",
    source_reply: "응답", source_staff: "직원",
    declare: "위기 선포", kind: "종류", crisis_title: "제목", severity: "심각도 (1-5)", radius_km: "반경 (km)",
    paste_alert: "경보 붙여넣기 (CAP, USGS)", or_upload: "또는 파일 선택",
    alert_too_big: "10 MB보다 큰 파일은 받을 수 없습니다", centre_latlon: "중심 (위도, 경도)",
    bad_centre: "위도, 경도 순서로 적어 주세요 (예: 36.20, 36.16)", click_map: "지도를 눌러 중심을 정하세요", import_alert: "경보 가져오기",
    nationals_inside: "명의 국민이 영역 안에 있습니다", proposed: "건 제안됨",
    kind_earthquake: "지진", kind_flood: "홍수", kind_war: "전쟁", kind_terrorism: "테러", kind_unrest: "소요",
    kind_epidemic: "감염병", kind_kidnapping: "납치", kind_other: "기타",
    launch_campaign: "안전 확인 발송", channels: "채널 (순서대로)", reask_minutes: "재문의 간격 (분)", rounds: "횟수",
    preview: "미리 보기", launch: "발송", launched: "발송됨",
    own_messages: "메시지 직접 쓰기", template_hint: "{name}, {crisis}, {link} (꼭 필요), {keywords}를 쓸 수 있습니다",
    all_missions: "모든 공관", back_crisis: "위기 상황으로", household: "가족", history: "메시지와 응답",
    registry: "재외국민 명부", import_nationals: "명부 가져오기", import_hint: "CSV 또는 JSON 파일을 고르고 먼저 확인하세요",
    check_file: "파일 확인", import: "가져오기", rows: "행", good: "정상", bad: "오류", added: "추가",
    updated: "수정", unchanged: "변경 없음", line: "줄", audit: "감사 기록",
    move_households: "가족별 대피소 바꾸기", closed: "운영 중단", shelter: "대피소",
    shelters: "대피소", shelters_count: "곳", search_shelter: "대피소 이름으로 찾기", capacity: "수용 인원", occupancy: "현재 인원", load: "사용률",
    shelter_medical: "의료", shelter_accessible: "무장애", shelter_open: "운영 중", shelter_name: "대피소 이름",
    lat: "위도", lon: "경도", add_shelter: "대피소 추가", regions_title: "지역",
    regions_hint: "지역과 대피소를 한꺼번에 넣을 때: safetyctl import regions|shelters FILE --mission CODE",
    kind_shelter: "대피소", kind_assembly_point: "집결지", kind_embassy: "대사관", kind_hotel: "호텔",
    kind_airport: "공항", kind_border_crossing: "국경 검문소",
    area_shape: "영역", shape_circle: "원", shape_polygon: "다각형", clear_shape: "지우기",
    click_corners: "지도를 눌러 꼭짓점을 차례로 찍으세요 (셋 이상)",
    edit: "정보 고치기", save: "저장", saved: "저장했습니다", nothing_changed: "바뀐 것이 없습니다",
    field_name_ko: "이름 (한글)", field_name_latin: "이름 (영문)", field_birth_date: "생년월일",
    field_address: "주소", field_notes: "메모", field_needs: "도움이 필요한 점", need_child: "어린이",
    need_elderly: "고령자", need_pregnant: "임신", need_disability: "장애", need_medical: "의료 지원",
    from_partner: "협력사 제공",
    search_name: "이름으로 찾기", assigned: "담당", everyone: "전체", mine: "내 담당", unassigned: "담당 없음",
    sort: "정렬", sort_urgency: "급한 순", sort_name: "이름순", sort_answered: "최근 응답순",
    registrations: "직접 등록", registered: "등록 시각", trip: "일정", people_with: "인원", residence: "체류",
    match: "기존 명부와 대조", confirmed: "확인됨", unconfirmed: "확인 안 됨", merged_into: "병합됨:",
    undo_merge: "병합 되돌리기", likely_same: "같은 사람일 수 있음:", merge: "병합",
    outcome_merged: "병합했습니다", outcome_unmerged: "병합을 되돌렸습니다",
    kept_since: "병합 후 직원이 바꾼 내용은 그대로 두었습니다:", kept_trip: "체류 기간", kept_household: "가구",
    outcome_nothing_to_merge: "병합할 대상이 없습니다", outcome_not_merged: "병합된 적이 없습니다",
    outcome_in_open_crisis: "진행 중인 위기의 대상자라 병합하지 않았습니다. 위기가 종료된 뒤 병합하세요",
    registered_twice: "같은 사람이 두 번 등록했습니다 (등록 #{id}): 하나를 지워 달라고 안내하세요",
    outcome_duplicate_is_registration: "같은 사람이 두 번 등록해 병합하지 않았습니다: 하나를 지워 달라고 안내하세요",
    status: { pending: "대기", safe: "안전", needs_help: "도움 필요", injured: "부상", needs_evacuation: "대피 필요",
      evacuated: "대피 완료", unreachable: "연락 불가", missing: "실종", deceased: "사망", unknown: "미확인" },
  },
  en: {
    title: "Safety", login: "Log in", logout: "Log out", username: "Username", password: "Password",
    login_failed: "Could not log in", crises: "Crises", no_crises: "No open crisis",
    more_shown: "Show more ({n} shown)",
    drill: "drill", people: "people", answers_per_minute: "Answers per minute", regions: "Response rate by region",
    map: "Map", live: "live", reconnecting: "reconnecting", back: "All crises", response_rate: "response rate",
    unknown_region: "region unknown", needs_review: "Needs review", call_list: "Call list", nobody: "Nobody",
    name: "Name", last_answer: "Last answer", contacts: "Contacts", record_call: "Record call", by_phone: "Reached by phone", status_stays: "Recorded; the status stays:",
    evacuation: "Evacuation", run_plan: "Plan evacuation", publish: "Publish", print: "Print manifests", plan: "Plan",
    groups: "groups", group: "Group", gap: "gap to the bound", gap_none: "not given (the bound does not apply to this plan)", plan_cancellations: "told their previous plan is cancelled", published: "published", planning: "Planning",
    plan_failed: "The plan failed", give_up_plan: "Give up this plan", plan_undelivered: "Instructions not delivered",
    gather_at: "Gather at", no_assembly_points: "no open assembly point", plan_busy: "Other plans are being made; trying again in",
    messages: "messages", not_recorded: "Not recorded", checking: "Checking", importing: "Importing",
    known_places: "known places", source_registration: "registration", source_import: "registry import",
    source_itinerary: "itinerary", source_reply: "answer", source_staff: "staff",
    declare: "Declare a crisis", kind: "Kind", crisis_title: "Title", severity: "Severity (1-5)", radius_km: "Radius (km)",
    paste_alert: "Paste an alert (CAP, USGS)", or_upload: "or choose a file",
    alert_too_big: "A file over 10 MB cannot be sent", centre_latlon: "Centre (latitude, longitude)",
    bad_centre: "Write latitude, then longitude (for example 36.20, 36.16)", click_map: "Click the map to place the centre", import_alert: "Import the alert",
    nationals_inside: "nationals inside", proposed: "proposed",
    kind_earthquake: "Earthquake", kind_flood: "Flood", kind_war: "War", kind_terrorism: "Terrorism", kind_unrest: "Unrest",
    kind_epidemic: "Epidemic", kind_kidnapping: "Kidnapping", kind_other: "Other",
    launch_campaign: "Launch a check-in", channels: "Channels, in order", reask_minutes: "Ask again after (minutes)",
    rounds: "Rounds", preview: "Preview", launch: "Launch", launched: "Launched",
    own_messages: "Write the messages", template_hint: "Use {name}, {crisis}, {link} (required) and {keywords}",
    all_missions: "All missions", back_crisis: "Back to the crisis", household: "Household", history: "Messages and answers",
    registry: "Registry", import_nationals: "Import nationals", import_hint: "Choose a CSV or JSON file and check it first",
    check_file: "Check the file", import: "Import", rows: "rows", good: "good", bad: "with errors", added: "added",
    updated: "updated", unchanged: "unchanged", line: "line", audit: "Audit log",
    move_households: "Move a household to another shelter", closed: "closed", shelter: "Shelter",
    shelters: "Shelters", shelters_count: "places", search_shelter: "Find a shelter by name", capacity: "Capacity", occupancy: "Occupancy", load: "Load",
    shelter_medical: "Medical", shelter_accessible: "Accessible", shelter_open: "Open", shelter_name: "Shelter name",
    lat: "Latitude", lon: "Longitude", add_shelter: "Add a shelter", regions_title: "Regions",
    regions_hint: "To load regions or shelters in bulk: safetyctl import regions|shelters FILE --mission CODE",
    kind_shelter: "Shelter", kind_assembly_point: "Assembly point", kind_embassy: "Embassy", kind_hotel: "Hotel",
    kind_airport: "Airport", kind_border_crossing: "Border crossing",
    area_shape: "Area", shape_circle: "Circle", shape_polygon: "Polygon", clear_shape: "Clear",
    click_corners: "Click the map at each corner in turn (three or more)",
    edit: "Edit details", save: "Save", saved: "Saved", nothing_changed: "Nothing changed",
    field_name_ko: "Name in Hangul", field_name_latin: "Name in Latin letters", field_birth_date: "Date of birth",
    field_address: "Address", field_notes: "Notes", field_needs: "Needs", need_child: "Child",
    need_elderly: "Elderly", need_pregnant: "Pregnant", need_disability: "Disability", need_medical: "Medical care",
    from_partner: "from a partner",
    search_name: "Search by name", assigned: "Assigned to", everyone: "Everyone", mine: "Mine",
    unassigned: "Unassigned", sort: "Sort", sort_urgency: "Most urgent first", sort_name: "By name",
    sort_answered: "Latest answer first",
    registrations: "Self-registrations", registered: "Registered", trip: "Trip", people_with: "People",
    residence: "Residence", match: "Registry match", confirmed: "confirmed", unconfirmed: "not confirmed",
    merged_into: "Merged into", undo_merge: "Undo merge", likely_same: "Likely the same as",
    merge: "Merge", outcome_merged: "Merged", outcome_unmerged: "Merge undone",
    kept_since: "What staff changed after the merge was kept:", kept_trip: "the trip", kept_household: "the household",
    outcome_nothing_to_merge: "Nothing to merge", outcome_not_merged: "Was not merged",
    outcome_in_open_crisis: "Not merged: this person is part of an open crisis. Merge once it is closed",
    registered_twice: "The same person registered twice (registration #{id}): ask them to delete one",
    outcome_duplicate_is_registration: "Not merged: the same person registered twice. Ask them to delete one",
    status: { pending: "Pending", safe: "Safe", needs_help: "Needs help", injured: "Injured",
      needs_evacuation: "Needs evacuation", evacuated: "Evacuated", unreachable: "Unreachable", missing: "Missing",
      deceased: "Deceased", unknown: "Unknown" },
  },
};

let lang = localStorage.getItem("lang") || (navigator.language || "ko").slice(0, 2);
if (!words[lang]) lang = "ko";

export function t(key) {
  return words[lang][key] ?? key;
}

export function statusName(s) {
  return words[lang].status[s] ?? s;
}

// What a recorded call shows: the status it resulted in, as the server answered,
// and, when the precedence rules kept another, that it stayed.
export function recordedText(requested, stored) {
  const status = stored?.status ?? requested;
  return stored?.applied === false || status !== requested
    ? `✓ ${t("status_stays")} ${statusName(status)}`
    : `✓ ${statusName(status)}`;
}

export function currentLang() {
  return lang;
}

export function switchLang() {
  lang = lang === "ko" ? "en" : "ko";
  localStorage.setItem("lang", lang);
}

// Static labels marked data-t in the page.
export function translatePage() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  const button = document.getElementById("lang");
  button.textContent = lang === "ko" ? "English" : "한국어";
  button.lang = lang === "ko" ? "en" : "ko";
}
