"""The report's style sheet (inlined in the self-contained page)."""

CSS = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 0;
       color: #1f2933; background: #f5f7fa; }
header { background: #243b53; color: #fff; padding: 24px 40px; }
header h1 { margin: 0 0 6px 0; font-size: 26px; }
header p { margin: 0; color: #d9e2ec; }
main { padding: 8px 40px 40px 40px; max-width: 1200px; }
section { background: #fff; border-radius: 6px; padding: 18px 24px; margin: 18px 0;
          box-shadow: 0 1px 3px rgba(0,0,0,0.08); }
h2 { margin-top: 0; font-size: 20px; color: #243b53; }
h3 { font-size: 16px; color: #334e68; }
p.note { color: #52606d; font-size: 13px; }
table { border-collapse: collapse; margin: 8px 0 12px 0; font-size: 13px; }
th, td { border-bottom: 1px solid #e4e7eb; padding: 5px 10px; text-align: right; }
th { background: #f0f4f8; color: #334e68; }
td.text, th.text { text-align: left; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 8px 0 16px 0; }
.card { background: #f0f4f8; border-radius: 6px; padding: 10px 16px; min-width: 150px; }
.card .value { font-size: 22px; font-weight: 600; color: #102a43; }
.card .label { font-size: 12px; color: #52606d; }
img { max-width: 100%; height: auto; }
.flag { color: #ab091e; font-weight: 600; }
.warn { color: #b44d12; font-weight: 600; }
.ok { color: #0c6b58; font-weight: 600; }
.grid { display: flex; flex-wrap: wrap; gap: 16px; }
.grid > div { flex: 1 1 480px; }
"""
