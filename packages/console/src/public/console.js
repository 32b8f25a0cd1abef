// Live operation progress on an app page: the console relays the catalog's addonEvents
// subscription as server-sent events; each event is listed and the app's state reloaded.
(() => {
  const list = document.getElementById('events');
  if (!list || !('EventSource' in window)) return;
  const status = document.getElementById('activity-status');
  const app = list.dataset.app;
  const source = new EventSource(`/apps/${encodeURIComponent(app)}/events`);
  let refreshing = false;
  const refresh = async () => {
    if (refreshing) return;
    refreshing = true;
    try {
      // The app's own page, not the current URL: after a refused form that is the form's POST address.
      const res = await fetch(`/apps/${encodeURIComponent(app)}${window.location.search}`, {
        headers: { accept: 'text/html' },
      });
      const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
      const fresh = doc.getElementById('app-state');
      const current = document.getElementById('app-state');
      // Keep keyboard focus where it was when the section is replaced.
      if (fresh && current && !current.contains(document.activeElement)) current.replaceWith(fresh);
    } finally {
      refreshing = false;
    }
  };
  source.addEventListener('addon', (message) => {
    const event = JSON.parse(message.data);
    const item = document.createElement('li');
    item.textContent = `${event.createdAt.replace('T', ' ').slice(0, 19)}  ${event.kind}${event.addon ? `  ${event.addon}` : ''}`;
    list.prepend(item);
    if (status) status.textContent = `Last: ${event.kind}`;
    void refresh();
  });
  source.addEventListener('failure', (message) => {
    if (status) status.textContent = `Live updates stopped: ${message.data}`;
    source.close();
  });
})();
