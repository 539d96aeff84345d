// Progressive enhancement of the reply page: share the phone's location if
// the person agrees. The page works without this file.
(function () {
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
