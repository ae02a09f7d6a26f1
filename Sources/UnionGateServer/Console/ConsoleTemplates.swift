import Mustache

/// The console's pages: mustache templates compiled into the binary (no files to install, no
/// external assets: union intranets often have no internet). Every page fills `layout`.
enum ConsoleTemplates {
    static let all: [String: String] = [
        "layout": layout, "login": login, "overview": overview, "members": members, "cases": cases,
        "case": caseThread, "rules": rules, "ruleFile": ruleFile, "ruleForm": ruleForm, "outbox": outbox,
        "staff": staff, "audit": audit,
        "message": message, "records": records, "staffEdit": staffEdit, "menu": menu, "qr": qr, "password": password,
    ]

    /// The library of every page; a template that does not parse stops the gateway at start-up
    /// (the tests build it).
    static func library() throws -> MustacheLibrary {
        var library = MustacheLibrary()
        for (name, text) in all.merging(partials, uniquingKeysWith: { first, _ in first }) {
            library.register(try MustacheTemplate(string: text), named: name)
        }
        return library
    }

    static let layout = """
        <!doctype html>
        <html lang="zh-CN">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · {{union}}</title>
        <link rel="stylesheet" href="/admin/static/console.css">
        </head>
        <body>
        {{#signedIn}}
        <header class="top">
          <a class="brand" href="/admin/">{{union}}</a>
          <a class="who" href="/admin/password">{{accountName}} · {{roleName}}</a>
          <form method="post" action="/admin/logout" class="inline">
            <input type="hidden" name="_csrf" value="{{csrf}}">
            <button type="submit" class="link" id="logout">退出</button>
          </form>
        </header>
        <nav class="tabs">{{#nav}}<a href="{{href}}"{{#current}} class="current" aria-current="page"{{/current}}>{{label}}</a>{{/nav}}</nav>
        {{/signedIn}}
        <main>
        <h1>{{title}}</h1>
        {{#flash}}<p class="flash" role="status" id="flash">{{flash}}</p>{{/flash}}
        {{#error}}<p class="error" role="alert" id="error">{{error}}</p>{{/error}}
        {{$content}}{{/content}}
        </main>
        </body>
        </html>
        """

    static let login = """
        {{<layout}}{{$content}}
        <form method="post" action="/admin/login" class="card narrow" id="login-form">
          <input type="hidden" name="_csrf" value="{{loginToken}}">
          <input type="hidden" name="next" value="{{next}}">
          <label>账号<input name="account" id="account" autocomplete="username" required value="{{typedAccount}}"></label>
          <label>密码<input name="password" id="password" type="password" autocomplete="current-password" required></label>
          <button type="submit" id="signin">登录</button>
          <p class="hint">工作人员用自己的账号和密码登录；总管理员的账号是 root，密码是服务器设置的管理令牌（UNIONGATE_ADMIN_TOKEN）。</p>
        </form>
        {{/content}}{{/layout}}
        """

    static let password = """
        {{<layout}}{{$content}}
        {{^isRoot}}
        <form method="post" action="/admin/password" class="card narrow" id="password-form">
          <input type="hidden" name="_csrf" value="{{csrf}}">
          <p class="hint">第一次登录或密码被重设后，请先设一个只有自己知道的新密码（至少 8 个字符）。</p>
          <label>原密码<input name="current" id="current" type="password" autocomplete="current-password" required></label>
          <label>新密码<input name="new" id="new" type="password" autocomplete="new-password" minlength="8" required></label>
          <label>再输一次新密码<input name="again" id="again" type="password" autocomplete="new-password" minlength="8" required></label>
          <button type="submit" id="change-password">修改密码</button>
        </form>
        {{/isRoot}}
        {{#isRoot}}<p class="card">总管理员的密码是服务器的 UNIONGATE_ADMIN_TOKEN，在服务器上修改。</p>{{/isRoot}}
        {{/content}}{{/layout}}
        """

    static let overview = """
        {{<layout}}{{$content}}
        <section class="figures">
          {{#figures}}
          <div class="figure{{#alert}} alert{{/alert}}"><span class="label">{{label}}</span><strong>{{today}}</strong><span class="sub">{{sub}}</span></div>
          {{/figures}}
        </section>
        <p class="hint">数据每 10 秒更新一次。</p>
        <section class="card">
          <h2>近 30 天</h2>
          <p class="legend"><span class="key applications"></span>入会申请 <span class="key suggestions"></span>合理化建议 <span class="key cases"></span>留言</p>
          {{{chart}}}
        </section>
        <section class="card">
          <h2>没人答的问题</h2>
          <p class="hint">近 30 天里没有规则回答、进了留言箱的话，按次数排列。加一条规则，下次就能自动回复。</p>
          {{#has_unanswered}}
          <table class="list"><thead><tr><th>会员发的话</th><th>次数</th><th></th></tr></thead><tbody>
          {{#unanswered}}<tr><td data-label="会员发的话">{{content}}</td><td data-label="次数">{{times}}</td>
          <td>{{#canEdit}}<a class="button small" href="/admin/rules/file?name=faq.yaml&amp;add={{encoded}}">加规则</a>{{/canEdit}}</td></tr>{{/unanswered}}
          </tbody></table>
          {{/has_unanswered}}
          {{^has_unanswered}}<p class="empty">近 30 天没有。</p>{{/has_unanswered}}
        </section>
        <section class="card">
          <h2>最常用的关键词（本实例启动以来）</h2>
          {{#has_topRules}}<ol class="top">{{#topRules}}<li>{{name}} <span class="count">{{hits}} 次</span></li>{{/topRules}}</ol>{{/has_topRules}}
          {{^has_topRules}}<p class="empty">还没有消息命中规则。</p>{{/has_topRules}}
        </section>
        {{/content}}{{/layout}}
        """

    static let pager = """
        <p class="pager">共 {{total}} 条{{#previous}} · <a href="{{previous}}" rel="prev">上一页</a>{{/previous}}{{#next}} · <a href="{{next}}" rel="next">下一页</a>{{/next}}</p>
        """

    static let members = """
        {{<layout}}{{$content}}
        <form method="get" action="/admin/members" class="filters">
          <select name="status" aria-label="状态">{{#statuses}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/statuses}}</select>
          <select name="unit" aria-label="单位"><option value="">全部单位</option>{{#units}}<option value="{{code}}"{{#selected}} selected{{/selected}}>{{name}}</option>{{/units}}</select>
          <input type="search" name="q" value="{{q}}" placeholder="姓名、手机号、编号">
          <button type="submit">查找</button>
          {{#exportPath}}<a class="button secondary" href="{{exportPath}}" id="export">导出 CSV</a>{{/exportPath}}
        </form>
        {{#has_rows}}
        <table class="list" id="members"><thead><tr><th>编号</th><th>姓名</th><th>手机</th><th>单位</th><th>申请时间</th><th>状态</th><th></th></tr></thead><tbody>
        {{#rows}}<tr id="member-{{id}}">
          <td data-label="编号">{{number}}</td><td data-label="姓名">{{name}}</td><td data-label="手机">{{phone}}</td>
          <td data-label="单位">{{unit}}</td><td data-label="申请时间">{{createdAt}}</td>
          <td data-label="状态"><span class="status {{status}}">{{statusName}}</span>{{#reason}}<br><small>{{reason}}</small>{{/reason}}</td>
          <td class="actions">{{#canDecide}}{{#pending}}
            <form method="post" action="/admin/members/{{id}}/approve" class="inline"><input type="hidden" name="_csrf" value="{{csrf}}"><button type="submit" class="approve" id="approve-{{id}}">通过</button></form>
            <form method="post" action="/admin/members/{{id}}/reject" class="inline reject"><input type="hidden" name="_csrf" value="{{csrf}}"><input name="reason" placeholder="不通过的原因" required aria-label="不通过的原因"><button type="submit" class="danger" id="reject-{{id}}">不通过</button></form>
          {{/pending}}{{/canDecide}}</td>
        </tr>{{/rows}}
        </tbody></table>
        {{/has_rows}}
        {{^has_rows}}<p class="empty">没有符合条件的申请。</p>{{/has_rows}}
        \(pager)
        {{/content}}{{/layout}}
        """

    static let cases = """
        {{<layout}}{{$content}}
        <form method="get" action="/admin/cases" class="filters">
          <select name="status" aria-label="状态">{{#statuses}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/statuses}}</select>
          <input type="search" name="q" value="{{q}}" placeholder="留言内容、编号">
          <button type="submit">查找</button>
        </form>
        {{#has_rows}}
        <table class="list" id="cases"><thead><tr><th>编号</th><th>最近留言</th><th>状态</th><th>答复期限</th><th>单位</th></tr></thead><tbody>
        {{#rows}}<tr{{#overdue}} class="overdue"{{/overdue}}>
          <td data-label="编号"><a href="/admin/cases/{{id}}" id="case-{{id}}">{{number}}</a></td>
          <td data-label="最近留言">{{latest}}</td>
          <td data-label="状态"><span class="status {{status}}">{{statusName}}</span>{{#overdue}} <span class="badge">已超期</span>{{/overdue}}</td>
          <td data-label="答复期限">{{dueAt}}</td><td data-label="单位">{{unit}}</td>
        </tr>{{/rows}}
        </tbody></table>
        {{/has_rows}}
        {{^has_rows}}<p class="empty">没有符合条件的留言。</p>{{/has_rows}}
        \(pager)
        {{/content}}{{/layout}}
        """

    static let caseThread = """
        {{<layout}}{{$content}}
        <p class="meta"><span class="status {{status}}">{{statusName}}</span>{{#overdue}} <span class="badge">已超期</span>{{/overdue}} · 单位 {{unit}} · 答复期限 {{dueAt}}{{#assignedStaff}} · 经办 {{assignedStaff}}{{/assignedStaff}}{{#rating}} · 会员评价 {{rating}} 星{{/rating}}</p>
        <ol class="thread" id="thread">
        {{#messages}}<li class="{{from}}"><span class="who">{{who}}</span><span class="when">{{at}}</span><p>{{content}}</p>
        {{#media}}{{#image}}<a href="{{link}}"><img class="media" src="{{link}}" alt="会员发的图片" loading="lazy"></a>{{/image}}{{#video}}<video class="media" src="{{link}}" controls preload="none"></video>{{/video}}{{#file}}<a href="{{link}}" class="button secondary small">下载语音</a>{{/file}}{{/media}}{{#mediaNote}}<p class="hint">{{mediaNote}}</p>{{/mediaNote}}</li>{{/messages}}
        </ol>
        {{#canDecide}}{{^closed}}
        <form method="post" action="/admin/cases/{{id}}/reply" class="card" id="reply-form">
          <input type="hidden" name="_csrf" value="{{csrf}}">
          <label>答复会员（通过公众号发给会员）<textarea name="text" id="reply-text" rows="4" required maxlength="600"></textarea></label>
          <button type="submit" id="send-reply">发送答复</button>
        </form>
        <form method="post" action="/admin/cases/{{id}}/assign" class="card" id="assign-form">
          <input type="hidden" name="_csrf" value="{{csrf}}">
          <label>转给单位<select name="unit"><option value="">（不变）</option>{{#units}}<option value="{{code}}">{{name}}</option>{{/units}}</select></label>
          <label>经办人（账号，可不填）<input name="staff" maxlength="32"></label>
          <button type="submit" class="secondary" id="assign-case">转办</button>
        </form>
        <form method="post" action="/admin/cases/{{id}}/close" class="inline"><input type="hidden" name="_csrf" value="{{csrf}}"><button type="submit" class="secondary" id="close-case">办结</button></form>
        {{/closed}}{{/canDecide}}
        <p><a href="/admin/cases">返回留言列表</a></p>
        {{/content}}{{/layout}}
        """

    static let rules = """
        {{<layout}}{{$content}}
        <section class="card">
          <h2>规则文件</h2>
          <ul class="files">{{#files}}<li><a href="/admin/rules/file?name={{name}}" id="file-{{id}}">{{name}}</a></li>{{/files}}</ul>
          <p class="hint">规则写在服务器的 Replies 文件夹里。在这里修改和直接改文件是一回事；保存前会做和 uniongate check 一样的检查，每次保存都留有历史版本。</p>
        </section>
        <table class="list" id="rules"><thead><tr><th>规则</th><th>触发</th><th>匹配方式</th><th>回复</th><th>命中</th><th>位置</th></tr></thead><tbody>
        {{#rows}}<tr>
          <td data-label="规则">{{name}}</td><td data-label="触发">{{trigger}}</td><td data-label="匹配方式">{{mode}}</td>
          <td data-label="回复">{{reply}}</td><td data-label="命中">{{hits}}</td>
          <td data-label="位置"><a href="/admin/rules/file?name={{file}}#line-{{line}}">{{file}}:{{line}}</a>{{#formable}} · <a href="/admin/rules/edit?file={{file}}&amp;line={{line}}" class="edit-rule">修改</a>{{/formable}}</td>
        </tr>{{/rows}}
        </tbody></table>
        {{/content}}{{/layout}}
        """

    static let ruleFile = """
        {{<layout}}{{$content}}
        {{>ruleProblems}}
        <div class="editor">
        <form method="post" action="/admin/rules/file" class="card" id="rule-form">
          <input type="hidden" name="_csrf" value="{{csrf}}">
          <input type="hidden" name="name" value="{{name}}">
          <input type="hidden" name="base" value="{{base}}">
          <label>{{name}}<textarea name="text" id="rule-text" rows="24" spellcheck="false">{{text}}</textarea></label>
          <label>说明（可不填）<input name="note" maxlength="200"></label>
          {{>ruleTry}}
        </form>
        {{>rulePreview}}
        </div>
        <section class="card"><h2>文件内容（带行号）</h2>
        <ol class="lines">{{#lines}}<li id="line-{{number}}"{{#bad}} class="bad"{{/bad}}><code>{{text}}</code></li>{{/lines}}</ol>
        </section>
        <section class="card"><h2>历史版本</h2>
        {{#has_history}}<table class="list" id="history"><thead><tr><th>版本</th><th>保存人</th><th>时间</th><th>说明</th><th></th></tr></thead><tbody>
        {{#history}}<tr><td data-label="版本">{{id}}</td><td data-label="保存人">{{savedBy}}</td><td data-label="时间">{{savedAt}}</td><td data-label="说明">{{note}}</td>
        <td>{{#canEdit}}<form method="post" action="/admin/rules/restore/{{id}}" class="inline"><input type="hidden" name="_csrf" value="{{csrf}}"><button type="submit" class="secondary small" id="restore-{{id}}">恢复此版本</button></form>{{/canEdit}}</td></tr>{{/history}}
        </tbody></table>{{/has_history}}
        {{^has_history}}<p class="empty">还没有在后台保存过。</p>{{/has_history}}
        </section>
        {{/content}}{{/layout}}
        """

    /// Pieces the rule file editor and the rule form share.
    static let partials: [String: String] = [
        "ruleProblems": """
        {{#has_problems}}
        <section class="card problems" id="problems"><h2>检查未通过，文件没有保存</h2><ul>
        {{#problems}}<li><a href="#line-{{line}}">{{where}}</a>：{{message}}</li>{{/problems}}
        </ul></section>
        {{/has_problems}}
        """,
        "ruleTry": """
        <label>试一试：会员发<input name="try" id="try" value="{{try}}" placeholder="例如：帮助"></label>
        <div class="buttons">
          <button type="submit" name="action" value="preview" class="secondary" id="preview">预览回复（不保存）</button>
          {{#canEdit}}<button type="submit" name="action" value="save" id="save">检查并保存</button>{{/canEdit}}
        </div>
        """,
        "rulePreview": """
        <aside class="card phone" id="preview-pane"><h2>预览</h2>
          {{#previewed}}<div class="bubble member">{{try}}</div>{{#answer}}<div class="bubble account" id="preview-answer">{{answer}}</div>{{/answer}}{{^answer}}<p class="empty">（没有回复）</p>{{/answer}}{{/previewed}}
          {{^previewed}}<p class="hint">写好规则，填上会员要发的话，点「预览回复」，这里会显示公众号的回答。</p>{{/previewed}}
        </aside>
        """,
    ]

    /// One keyword rule in a form: the file's other lines and comments stay as they are.
    static let ruleForm = """
        {{<layout}}{{$content}}
        {{>ruleProblems}}
        <div class="editor">
        <form method="post" action="/admin/rules/edit" class="card" id="rule-fields">
          <input type="hidden" name="_csrf" value="{{csrf}}">
          <input type="hidden" name="file" value="{{file}}">
          <input type="hidden" name="line" value="{{line}}">
          <input type="hidden" name="base" value="{{base}}">
          <label>规则名称<input name="rule_name" id="rule-name" value="{{ruleName}}" maxlength="100" required></label>
          <label>关键词（每行一个）<textarea name="keywords" id="keywords" rows="4" spellcheck="false">{{keywords}}</textarea></label>
          <label>匹配方式<select name="match" id="match">{{#modes}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/modes}}</select></label>
          <label>回复<textarea name="reply" id="reply" rows="8">{{reply}}</textarea></label>
          <p class="hint">回复里可以写 {union}（工会名称）、{date}、{time}、{weekday}、{content}（会员发的话）。这条规则的其它设置（优先级、时间段）和文件里的注释保持不变。</p>
          {{>ruleTry}}
          <p><a href="/admin/rules/file?name={{file}}#line-{{line}}">在文件 {{file}} 里编辑</a></p>
        </form>
        {{>rulePreview}}
        </div>
        {{/content}}{{/layout}}
        """

    /// 合理化建议 and 申请/表单: records a member sent, each with its status and the union's reply.
    static let records = """
        {{<layout}}{{$content}}
        <form method="get" action="{{listPath}}" class="filters">
          {{#has_forms}}<select name="form" aria-label="表单">{{#forms}}<option value="{{name}}"{{#selected}} selected{{/selected}}>{{title}}</option>{{/forms}}</select>{{/has_forms}}
          <select name="status" aria-label="状态">{{#statuses}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/statuses}}</select>
          <select name="unit" aria-label="单位"><option value="">全部单位</option>{{#units}}<option value="{{code}}"{{#selected}} selected{{/selected}}>{{name}}</option>{{/units}}</select>
          <input type="search" name="q" value="{{q}}" placeholder="内容、姓名、手机号、编号">
          <button type="submit">查找</button>
          {{#exportPath}}<a class="button secondary" href="{{exportPath}}" id="export">导出 CSV</a>{{/exportPath}}
        </form>
        {{#has_rows}}
        <ul class="records" id="records">
        {{#rows}}<li class="card" id="record-{{id}}">
          <p class="meta">{{number}} · {{unit}} · {{createdAt}} · <span class="status {{status}}">{{statusName}}</span></p>
          {{#fields}}<p class="field"><span class="label">{{label}}</span>{{value}}</p>{{/fields}}
          {{#content}}<p class="content">{{content}}</p>{{/content}}
          {{#reply}}<p class="reply"><span class="label">工会答复</span>{{reply}}</p>{{/reply}}
          {{#canDecide}}
          <form method="post" action="{{actionPath}}" class="answer">
            <input type="hidden" name="_csrf" value="{{csrf}}">
            <select name="status" aria-label="状态">{{#choices}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/choices}}</select>
            <textarea name="reply" rows="2" placeholder="写给会员的答复（会通过公众号通知会员）" aria-label="答复">{{reply}}</textarea>
            <button type="submit" id="save-{{id}}">保存并通知会员</button>
          </form>
          {{/canDecide}}
        </li>{{/rows}}
        </ul>
        {{/has_rows}}
        {{^has_rows}}<p class="empty">没有符合条件的记录。</p>{{/has_rows}}
        \(pager)
        {{/content}}{{/layout}}
        """

    static let menu = """
        {{<layout}}{{$content}}
        <div class="editor">
        <section class="card phone menu-preview" id="menu-preview"><h2>手机上的样子</h2>
          <div class="chat-space"></div>
          <div class="menu-bar">{{#buttons}}<div class="menu-button"><span class="name">{{name}}</span>
            {{#has_subs}}<ul class="subs">{{#subs}}<li>{{name}}<small>{{action}}</small></li>{{/subs}}</ul>{{/has_subs}}
            {{^has_subs}}<small>{{action}}</small>{{/has_subs}}</div>{{/buttons}}</div>
        </section>
        <section class="card"><h2>检查</h2>
          <p id="menu-limits">{{limits}}</p>
          <h2>与公众号上的菜单比较</h2>
          {{#comparison}}<p id="menu-comparison">{{comparison}}</p>{{/comparison}}
          {{#has_differences}}<ul id="menu-differences">{{#differences}}<li>{{.}}</li>{{/differences}}</ul>{{/has_differences}}
          {{#canPublish}}
          <form method="post" action="/admin/menu/publish"><input type="hidden" name="_csrf" value="{{csrf}}">
            <button type="submit" id="publish-menu">发布到公众号</button></form>
          <p class="hint">发布后，微信客户端可能要几分钟才显示新菜单。</p>
          {{/canPublish}}
          <p class="hint">菜单写在 Replies 的 {{file}} 里，可以在「自动回复」中修改。</p>
        </section>
        </div>
        {{/content}}{{/layout}}
        """

    static let qr = """
        {{<layout}}{{$content}}
        {{#has_rows}}
        <table class="list" id="qr-codes"><thead><tr><th>单位</th><th>类型</th><th>扫码</th><th>新关注</th><th>开始入会</th><th>提交</th><th>通过</th><th></th></tr></thead><tbody>
        {{#rows}}<tr><td data-label="单位">{{unit}}</td><td data-label="类型">{{kind}}</td><td data-label="扫码">{{scans}}</td><td data-label="新关注">{{follows}}</td>
        <td data-label="开始入会">{{started}}</td><td data-label="提交">{{submitted}}</td><td data-label="通过">{{approved}}</td>
        <td>{{#poster}}<a class="button small secondary" href="{{poster}}">海报</a>{{/poster}}</td></tr>{{/rows}}
        </tbody></table>
        {{/has_rows}}
        {{^has_rows}}<p class="empty">还没有单位的入会二维码。用 <code>uniongate qr create --unit 单位代码</code> 生成。</p>{{/has_rows}}
        {{/content}}{{/layout}}
        """

    static let outbox = """
        {{<layout}}{{$content}}
        <section class="card"><h2>需电话通知</h2>
        {{#has_phone}}<table class="list" id="phone-notices"><thead><tr><th>会员</th><th>手机</th><th>通知</th><th>原因</th></tr></thead><tbody>
        {{#phone}}<tr><td data-label="会员">{{name}}</td><td data-label="手机">{{phone}}</td><td data-label="通知">{{text}}</td><td data-label="原因">{{why}}</td></tr>{{/phone}}
        </tbody></table>{{/has_phone}}
        {{^has_phone}}<p class="empty">没有需要打电话通知的会员。</p>{{/has_phone}}
        </section>
        <table class="list" id="outbox"><thead><tr><th>编号</th><th>会员</th><th>内容</th><th>状态</th><th>时间</th></tr></thead><tbody>
        {{#rows}}<tr><td data-label="编号">{{id}}</td><td data-label="会员">{{openid}}</td><td data-label="内容">{{preview}}</td><td data-label="状态"><span class="status {{status}}">{{statusName}}</span>{{#lastError}}<br><small>{{lastError}}</small>{{/lastError}}</td><td data-label="时间">{{createdAt}}</td></tr>{{/rows}}
        </tbody></table>
        {{/content}}{{/layout}}
        """

    static let staff = """
        {{<layout}}{{$content}}
        {{#secret}}<p class="flash" id="secret">{{secretFor}} 的一次性密码：<code>{{secret}}</code>（只显示这一次，请当面或电话告诉本人；首次登录须修改）</p>{{/secret}}
        <table class="list" id="staff"><thead><tr><th>账号</th><th>单位</th><th>角色</th><th>状态</th><th>创建时间</th><th></th></tr></thead><tbody>
        {{#rows}}<tr id="staff-{{name}}"><td data-label="账号">{{name}}</td><td data-label="单位">{{unit}}</td><td data-label="角色">{{role}}</td><td data-label="状态">{{state}}</td><td data-label="创建时间">{{createdAt}}</td>
        <td class="actions">{{^disabled}}
          <a href="/admin/staff/edit?name={{name}}" class="button secondary small" id="change-{{name}}">更改单位/角色</a>
          <form method="post" action="/admin/staff/reset" class="inline"><input type="hidden" name="_csrf" value="{{csrf}}"><input type="hidden" name="name" value="{{name}}"><button type="submit" class="secondary small">重设密码</button></form>
          <form method="post" action="/admin/staff/disable" class="inline"><input type="hidden" name="_csrf" value="{{csrf}}"><input type="hidden" name="name" value="{{name}}"><button type="submit" class="danger small">停用</button></form>
        {{/disabled}}</td></tr>{{/rows}}
        </tbody></table>
        <form method="post" action="/admin/staff" class="card" id="add-staff">
          <h2>添加工作人员</h2>
          <input type="hidden" name="_csrf" value="{{csrf}}">
          <label>账号（登录名）<input name="name" id="staff-name" required maxlength="32"></label>
          <label>单位<select name="unit" id="staff-unit">{{#units}}<option value="{{code}}">{{name}}</option>{{/units}}</select></label>
          <label>角色<select name="role" id="staff-role">{{#roles}}<option value="{{value}}">{{label}}</option>{{/roles}}</select></label>
          <button type="submit" id="add-staff-button">添加（生成一次性密码）</button>
        </form>
        {{/content}}{{/layout}}
        """

    static let staffEdit = """
        {{<layout}}{{$content}}
        <form method="post" action="/admin/staff/change" class="card" id="change-staff">
          <input type="hidden" name="_csrf" value="{{csrf}}">
          <input type="hidden" name="name" value="{{name}}">
          <label>单位<select name="unit" id="staff-unit">{{#units}}<option value="{{code}}"{{#selected}} selected{{/selected}}>{{name}}</option>{{/units}}</select></label>
          <label>角色<select name="role" id="staff-role">{{#roles}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/roles}}</select></label>
          <p class="hint">更改后，此账号从下一次操作起只能看到和办理新单位及其下级单位的事项。</p>
          <button type="submit" id="change-staff-button">保存</button>
          <a href="/admin/staff">取消</a>
        </form>
        {{/content}}{{/layout}}
        """

    static let audit = """
        {{<layout}}{{$content}}
        <table class="list" id="audit"><thead><tr><th>时间</th><th>谁</th><th>做了什么</th><th>记录</th><th>单位</th></tr></thead><tbody>
        {{#rows}}<tr><td data-label="时间">{{at}}</td><td data-label="谁">{{actor}}</td><td data-label="做了什么">{{action}}</td><td data-label="记录">{{record}}</td><td data-label="单位">{{unit}}</td></tr>{{/rows}}
        </tbody></table>
        \(pager)
        {{/content}}{{/layout}}
        """

    static let message = """
        {{<layout}}{{$content}}
        <p class="card">{{text}}</p>
        <p><a href="{{back}}">{{backLabel}}</a></p>
        {{/content}}{{/layout}}
        """

    static let stylesheet = """
        :root { --ink: #1f2328; --muted: #5f6b76; --line: #d8dee4; --brand: #c8161d; --ok: #1a7f37; --bg: #f6f7f9; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 15px/1.6 "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", system-ui, sans-serif; color: var(--ink); background: var(--bg); }
        .top { display: flex; align-items: center; gap: 12px; padding: 10px 16px; background: var(--brand); color: #fff; }
        .top .brand { color: #fff; font-weight: 700; text-decoration: none; flex: 1; }
        .top .who { font-size: 13px; opacity: .9; color: #fff; text-decoration: none; }
        .top .link { background: none; border: 1px solid rgba(255,255,255,.6); color: #fff; padding: 2px 10px; }
        nav.tabs { display: flex; overflow-x: auto; background: #fff; border-bottom: 1px solid var(--line); }
        nav.tabs a { padding: 10px 14px; color: var(--ink); text-decoration: none; white-space: nowrap; }
        nav.tabs a.current { color: var(--brand); border-bottom: 3px solid var(--brand); font-weight: 600; }
        main { max-width: 1100px; margin: 0 auto; padding: 12px 16px 40px; }
        h1 { font-size: 20px; margin: 8px 0 12px; } h2 { font-size: 16px; margin: 0 0 8px; }
        .card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px; margin: 0 0 14px; }
        .narrow { max-width: 380px; margin: 24px auto; }
        label { display: block; margin: 0 0 10px; color: var(--muted); font-size: 14px; }
        input, select, textarea { display: block; width: 100%; margin-top: 4px; padding: 8px; font: inherit; color: var(--ink); border: 1px solid var(--line); border-radius: 6px; background: #fff; }
        textarea { font-family: "Noto Sans Mono CJK SC", ui-monospace, monospace; font-size: 14px; }
        button, .button { display: inline-block; padding: 8px 16px; font: inherit; border: 0; border-radius: 6px; background: var(--brand); color: #fff; cursor: pointer; text-decoration: none; }
        button.secondary, .button.secondary { background: #fff; color: var(--ink); border: 1px solid var(--line); }
        button.danger { background: #6e7781; } button.approve { background: var(--ok); } .small { padding: 3px 10px; font-size: 13px; }
        .inline { display: inline; } .inline input { display: inline-block; width: auto; }
        .flash { background: #dafbe1; border: 1px solid #aceebb; padding: 10px; border-radius: 6px; }
        .error { background: #ffebe9; border: 1px solid #ffcecb; padding: 10px; border-radius: 6px; }
        .hint, .empty, .meta { color: var(--muted); font-size: 13px; }
        .filters { display: flex; flex-wrap: wrap; gap: 8px; margin-bottom: 12px; } .filters > * { width: auto; flex: 1 1 140px; margin: 0; }
        .filters button, .filters a.button { flex: 0 0 auto; }
        table.list { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid var(--line); border-radius: 8px; margin-bottom: 12px; }
        table.list th, table.list td { padding: 8px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
        table.list th { background: #f0f2f4; font-weight: 600; font-size: 13px; }
        tr.overdue td { background: #fff8c5; }
        .status { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px; background: #eaeef2; }
        .status.pending, .status.open, .status.queued, .status.held { background: #fff8c5; }
        .status.approved, .status.answered, .status.sent { background: #dafbe1; } .status.rejected, .status.failed { background: #ffebe9; }
        .badge { background: var(--brand); color: #fff; border-radius: 10px; padding: 0 8px; font-size: 12px; }
        .figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px; margin-bottom: 14px; }
        .figure { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
        .figure .label { display: block; color: var(--muted); font-size: 13px; } .figure strong { font-size: 26px; }
        .figure .sub { display: block; color: var(--muted); font-size: 12px; } .figure.alert strong { color: var(--brand); }
        .legend .key { display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 10px; }
        .key.applications, .bar.applications { background: #c8161d; fill: #c8161d; } .key.suggestions, .bar.suggestions { background: #d4a72c; fill: #d4a72c; }
        .key.cases, .bar.cases { background: #57606a; fill: #57606a; }
        svg.chart { width: 100%; max-width: 760px; height: auto; display: block; } svg.chart text { font-size: 9px; fill: #5f6b76; }
        ol.top .count { color: var(--muted); font-size: 13px; }
        ol.thread { list-style: none; padding: 0; } ol.thread li { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 8px 12px; margin-bottom: 8px; max-width: 85%; }
        ol.thread li.staff { margin-left: auto; background: #e7f3ff; } ol.thread .who { font-weight: 600; margin-right: 8px; } ol.thread .when { color: var(--muted); font-size: 12px; }
        ol.thread p { margin: 4px 0 0; white-space: pre-wrap; }
        ol.thread .media { display: block; max-width: 100%; max-height: 320px; margin-top: 6px; border-radius: 6px; }
        .editor { display: grid; grid-template-columns: 1fr; gap: 14px; }
        @media (min-width: 900px) { .editor { grid-template-columns: 3fr 2fr; } }
        .phone { border-radius: 18px; background: #ededed; min-height: 200px; }
        .bubble { padding: 8px 12px; border-radius: 8px; margin: 8px 0; white-space: pre-wrap; max-width: 90%; }
        .bubble.member { background: #95ec69; margin-left: auto; width: fit-content; } .bubble.account { background: #fff; }
        .buttons { display: flex; gap: 8px; flex-wrap: wrap; }
        ol.lines { font-family: "Noto Sans Mono CJK SC", ui-monospace, monospace; font-size: 13px; margin: 0; padding-left: 48px; max-height: 360px; overflow: auto; }
        ol.lines li { white-space: pre-wrap; } ol.lines li.bad { background: #ffebe9; } ol.lines li:target { background: #fff8c5; }
        ul.records { list-style: none; padding: 0; } .records .field .label, .records .reply .label { color: var(--muted); font-size: 13px; margin-right: 8px; }
        .records .content { white-space: pre-wrap; margin: 6px 0; } .records .reply { background: #e7f3ff; padding: 6px 8px; border-radius: 6px; }
        form.answer { display: grid; grid-template-columns: 1fr; gap: 6px; margin-top: 8px; }
        @media (min-width: 700px) { form.answer { grid-template-columns: 160px 1fr auto; align-items: start; } }
        form.answer select, form.answer textarea { margin: 0; }
        .menu-preview { display: flex; flex-direction: column; min-height: 360px; } .chat-space { flex: 1; }
        .menu-bar { display: flex; border-top: 1px solid #d0d0d0; background: #f7f7f7; align-items: flex-end; }
        .menu-button { flex: 1; text-align: center; padding: 8px 4px; border-left: 1px solid #e0e0e0; position: relative; font-size: 14px; }
        .menu-button:first-child { border-left: 0; } .menu-button small { display: block; color: var(--muted); font-size: 11px; }
        .menu-button .subs { list-style: none; margin: 0 0 8px; padding: 0; background: #fff; border: 1px solid #e0e0e0; border-radius: 6px; }
        .menu-button .subs li { padding: 6px 4px; border-bottom: 1px solid #eee; } .menu-button .name { font-weight: 600; }
        .problems { border-color: #ffcecb; } .files { columns: 3 140px; }
        @media (max-width: 640px) {
          table.list thead { display: none; } table.list tr { display: block; border-bottom: 1px solid var(--line); padding: 6px 0; }
          table.list td { display: block; border: 0; padding: 2px 10px; } table.list td[data-label]::before { content: attr(data-label) "："; color: var(--muted); font-size: 12px; }
          .top .who { display: none; } .inline.reject input { width: 100%; margin: 6px 0; }
        }
        """
}
