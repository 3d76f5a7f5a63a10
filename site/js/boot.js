// Runs before first paint (a plain, synchronous script): applies the theme from
// the locker so a dark-theme user never sees a light flash. No secrets here.
(function () {
  try {
    var raw = localStorage.getItem('kiwi.locker');
    var theme = raw ? (JSON.parse(raw).theme || 'auto') : 'auto';
    if (theme === 'light' || theme === 'dark') document.documentElement.setAttribute('data-theme', theme);
  } catch (e) { /* storage unavailable: stay on auto */ }
})();
