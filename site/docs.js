// The host's /docs page (host/src/docs.html) loads this classic script; it
// pulls in the same reference view the portal uses (an ES module).
(function () {
  var app = document.getElementById('app');
  import('/js/locker.js').then(function (m) { m.applyTheme(m.locker.get('theme')); }).catch(function () {});
  import('/js/reference-view.js')
    .then(function (m) {
      var params = new URLSearchParams(location.search);
      var tenant = params.get('tenant');
      var url = tenant ? '/openapi.json?tenant=' + encodeURIComponent(tenant) : '/openapi.json';
      while (app.firstChild) app.removeChild(app.firstChild);
      var back = document.createElement('p');
      back.className = 'small';
      var a = document.createElement('a');
      a.href = '/';
      a.textContent = '← Kiwi developer portal';
      back.appendChild(a);
      app.appendChild(back);
      return m.renderReference(app, { url: url });
    })
    .catch(function (err) {
      var p = document.createElement('p');
      p.textContent = 'Could not load the reference: ' + err.message;
      app.appendChild(p);
    });
})();
