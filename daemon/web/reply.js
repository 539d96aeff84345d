// Progressive enhancement of the reply page: share the phone's location if
// the person agrees, and a fresh form id when the browser shows the page
// again from its back-forward cache (a new answer from the same page is then
// not taken for a resend of the first). The page works without this file.
(function () {
	window.addEventListener("pageshow", function (ev) {
		var id = document.querySelector('input[name="form"]'), bytes, hex = "", i;
		if (!ev.persisted || !id || !window.crypto || !window.crypto.getRandomValues) return;
		bytes = window.crypto.getRandomValues(new Uint8Array(12));
		for (i = 0; i < bytes.length; i++) hex += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
		id.value = hex;
	});
	var b = document.getElementById("share-location");
	if (!b || !navigator.geolocation) return;
	b.hidden = false;
	b.addEventListener("click", function () {
		b.disabled = true;
		navigator.geolocation.getCurrentPosition(function (p) {
			document.getElementById("lat").value = p.coords.latitude.toFixed(6);
			document.getElementById("lon").value = p.coords.longitude.toFixed(6);
			document.getElementById("acc").value = Math.round(p.coords.accuracy);
			b.textContent = b.getAttribute("data-done");
		}, function () {
			b.disabled = false;
			b.textContent = b.getAttribute("data-failed");
		}, {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
	});
})();
