BEGIN TRANSACTION;
CREATE TABLE active_days (
	day DATE NOT NULL, 
	PRIMARY KEY (day)
);
INSERT INTO "active_days" VALUES('2026-11-02');
INSERT INTO "active_days" VALUES('2026-11-03');
INSERT INTO "active_days" VALUES('2026-11-04');
INSERT INTO "active_days" VALUES('2026-11-05');
INSERT INTO "active_days" VALUES('2026-11-06');
INSERT INTO "active_days" VALUES('2026-11-07');
INSERT INTO "active_days" VALUES('2026-11-08');
INSERT INTO "active_days" VALUES('2026-11-09');
INSERT INTO "active_days" VALUES('2026-11-10');
INSERT INTO "active_days" VALUES('2026-11-11');
INSERT INTO "active_days" VALUES('2026-11-12');
INSERT INTO "active_days" VALUES('2026-11-13');
INSERT INTO "active_days" VALUES('2026-11-14');
INSERT INTO "active_days" VALUES('2026-11-15');
CREATE TABLE checkins (
	id INTEGER NOT NULL, 
	member_id VARCHAR NOT NULL, 
	day DATE NOT NULL, 
	at DATETIME NOT NULL, 
	room_id VARCHAR, 
	streak INTEGER NOT NULL, 
	total_days INTEGER NOT NULL, 
	points INTEGER NOT NULL, 
	makeup BOOLEAN NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_checkins_member_day UNIQUE (member_id, day), 
	FOREIGN KEY(member_id) REFERENCES members (id)
);
INSERT INTO "checkins" VALUES(1,'alice','2026-11-02','2026-11-02 00:00:00.000000','g1',1,1,5,0);
INSERT INTO "checkins" VALUES(2,'bob','2026-11-02','2026-11-02 00:00:00.000000','g1',1,1,5,0);
INSERT INTO "checkins" VALUES(3,'carol','2026-11-02','2026-11-02 00:00:00.000000','g1',1,1,5,0);
INSERT INTO "checkins" VALUES(4,'alice','2026-11-03','2026-11-03 00:00:00.000000','g1',2,2,5,0);
INSERT INTO "checkins" VALUES(5,'carol','2026-11-03','2026-11-03 00:00:00.000000','g1',2,2,5,0);
INSERT INTO "checkins" VALUES(6,'erin','2026-11-03','2026-11-03 00:00:00.000000','g2',1,1,5,0);
INSERT INTO "checkins" VALUES(7,'alice','2026-11-04','2026-11-04 00:00:00.000000','g1',3,3,15,0);
INSERT INTO "checkins" VALUES(8,'bob','2026-11-04','2026-11-04 00:00:00.000000','g1',1,2,5,0);
INSERT INTO "checkins" VALUES(9,'carol','2026-11-04','2026-11-04 00:00:00.000000','g1',3,3,15,0);
INSERT INTO "checkins" VALUES(10,'erin','2026-11-04','2026-11-04 00:00:00.000000','g2',2,2,5,0);
INSERT INTO "checkins" VALUES(11,'alice','2026-11-05','2026-11-05 00:00:00.000000','g1',4,4,5,0);
INSERT INTO "checkins" VALUES(12,'erin','2026-11-05','2026-11-05 00:00:00.000000','g2',3,3,15,0);
INSERT INTO "checkins" VALUES(13,'alice','2026-11-06','2026-11-06 00:00:00.000000','g1',5,5,5,0);
INSERT INTO "checkins" VALUES(14,'bob','2026-11-06','2026-11-06 00:00:00.000000','g1',1,3,5,0);
INSERT INTO "checkins" VALUES(15,'erin','2026-11-06','2026-11-06 00:00:00.000000','g2',4,4,5,0);
INSERT INTO "checkins" VALUES(16,'alice','2026-11-07','2026-11-07 00:00:00.000000','g1',6,6,5,0);
INSERT INTO "checkins" VALUES(17,'erin','2026-11-07','2026-11-07 00:00:00.000000','g2',5,5,5,0);
INSERT INTO "checkins" VALUES(18,'alice','2026-11-08','2026-11-08 00:00:00.000000','g1',7,7,5,0);
INSERT INTO "checkins" VALUES(19,'bob','2026-11-08','2026-11-08 00:00:00.000000','g1',1,4,5,0);
INSERT INTO "checkins" VALUES(20,'erin','2026-11-08','2026-11-08 00:00:00.000000','g2',6,6,5,0);
INSERT INTO "checkins" VALUES(21,'alice','2026-11-09','2026-11-09 00:00:00.000000','g1',8,8,5,0);
INSERT INTO "checkins" VALUES(22,'carol','2026-11-09','2026-11-09 00:00:00.000000','g1',1,4,5,0);
INSERT INTO "checkins" VALUES(23,'erin','2026-11-09','2026-11-09 00:00:00.000000','g2',7,7,5,0);
INSERT INTO "checkins" VALUES(24,'alice','2026-11-10','2026-11-10 00:00:00.000000','g1',9,9,5,0);
INSERT INTO "checkins" VALUES(25,'bob','2026-11-10','2026-11-10 00:00:00.000000','g1',1,5,5,0);
INSERT INTO "checkins" VALUES(26,'carol','2026-11-10','2026-11-10 00:00:00.000000','g1',2,5,5,0);
INSERT INTO "checkins" VALUES(27,'alice','2026-11-11','2026-11-11 00:00:00.000000','g1',10,10,5,0);
INSERT INTO "checkins" VALUES(28,'alice','2026-11-12','2026-11-12 00:00:00.000000','g1',11,11,5,0);
INSERT INTO "checkins" VALUES(29,'bob','2026-11-12','2026-11-12 00:00:00.000000','g1',1,6,5,0);
INSERT INTO "checkins" VALUES(30,'alice','2026-11-13','2026-11-13 00:00:00.000000','g1',12,12,5,0);
INSERT INTO "checkins" VALUES(31,'alice','2026-11-14','2026-11-14 00:00:00.000000','g1',13,13,5,0);
INSERT INTO "checkins" VALUES(32,'bob','2026-11-14','2026-11-14 00:00:00.000000','g1',1,7,5,0);
INSERT INTO "checkins" VALUES(33,'alice','2026-11-15','2026-11-15 00:00:00.000000','g1',14,14,5,0);
CREATE TABLE conversations (
	chat VARCHAR NOT NULL, 
	member_id VARCHAR NOT NULL, 
	kind VARCHAR NOT NULL, 
	step VARCHAR NOT NULL, 
	data VARCHAR NOT NULL, 
	expires_at DATETIME NOT NULL, 
	PRIMARY KEY (chat, member_id)
);
CREATE TABLE daily_counters (
	member_id VARCHAR NOT NULL, 
	kind VARCHAR NOT NULL, 
	day DATE NOT NULL, 
	count INTEGER NOT NULL, 
	PRIMARY KEY (member_id, kind, day)
);
INSERT INTO "daily_counters" VALUES('alice','expiry_warned','2026-11-06',1);
INSERT INTO "daily_counters" VALUES('bob','expiry_warned','2026-11-06',1);
INSERT INTO "daily_counters" VALUES('carol','expiry_warned','2026-11-06',1);
INSERT INTO "daily_counters" VALUES('dave','expiry_warned','2026-11-06',1);
INSERT INTO "daily_counters" VALUES('erin','expiry_warned','2026-11-06',1);
INSERT INTO "daily_counters" VALUES('alice','expiry_warned','2026-11-08',1);
INSERT INTO "daily_counters" VALUES('bob','expiry_warned','2026-11-08',1);
INSERT INTO "daily_counters" VALUES('carol','expiry_warned','2026-11-08',1);
INSERT INTO "daily_counters" VALUES('erin','expiry_warned','2026-11-08',1);
INSERT INTO "daily_counters" VALUES('alice','expiry_warned','2026-11-10',1);
INSERT INTO "daily_counters" VALUES('bob','expiry_warned','2026-11-10',1);
INSERT INTO "daily_counters" VALUES('erin','expiry_warned','2026-11-10',1);
INSERT INTO "daily_counters" VALUES('alice','expiry_warned','2026-11-12',1);
INSERT INTO "daily_counters" VALUES('bob','expiry_warned','2026-11-12',1);
INSERT INTO "daily_counters" VALUES('erin','expiry_warned','2026-11-12',1);
INSERT INTO "daily_counters" VALUES('carol','expiry_warned','2026-11-13',1);
INSERT INTO "daily_counters" VALUES('alice','expiry_warned','2026-11-14',1);
INSERT INTO "daily_counters" VALUES('bob','expiry_warned','2026-11-14',1);
INSERT INTO "daily_counters" VALUES('erin','expiry_warned','2026-11-14',1);
INSERT INTO "daily_counters" VALUES('carol','expiry_warned','2026-11-15',1);
CREATE TABLE invites (
	id INTEGER NOT NULL, 
	event_id VARCHAR NOT NULL, 
	inviter_id VARCHAR NOT NULL, 
	invitee_id VARCHAR NOT NULL, 
	room_id VARCHAR NOT NULL, 
	joined_at DATETIME NOT NULL, 
	status VARCHAR NOT NULL, 
	reason VARCHAR NOT NULL, 
	points INTEGER NOT NULL, 
	"key" VARCHAR NOT NULL, 
	reversed_at DATETIME, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_invites_event_invitee UNIQUE (event_id, invitee_id), 
	FOREIGN KEY(inviter_id) REFERENCES members (id), 
	FOREIGN KEY(invitee_id) REFERENCES members (id)
);
INSERT INTO "invites" VALUES(1,'j2','alice','carol','g1','2026-11-01 23:10:00.000000','valid','',20,'invite:j2:carol',NULL);
INSERT INTO "invites" VALUES(2,'j3','alice','dave','g1','2026-11-01 23:20:00.000000','reversed','',20,'invite:j3:dave','2026-11-04 01:00:00.000000');
INSERT INTO "invites" VALUES(3,'j4','bob','erin','g2','2026-11-01 23:30:00.000000','valid','',20,'invite:j4:erin',NULL);
CREATE TABLE ledger (
	id INTEGER NOT NULL, 
	member_id VARCHAR NOT NULL, 
	delta INTEGER NOT NULL, 
	growth_delta INTEGER NOT NULL, 
	balance_after INTEGER NOT NULL, 
	kind VARCHAR NOT NULL, 
	"key" VARCHAR NOT NULL, 
	at DATETIME NOT NULL, 
	room_id VARCHAR, 
	detail VARCHAR NOT NULL, 
	campaign VARCHAR, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_ledger_key UNIQUE ("key"), 
	FOREIGN KEY(member_id) REFERENCES members (id)
);
INSERT INTO "ledger" VALUES(1,'alice',10,10,10,'newcomer','newcomer:alice','2026-11-01 23:00:00.000000','g1','新人礼',NULL);
INSERT INTO "ledger" VALUES(2,'bob',10,10,10,'newcomer','newcomer:bob','2026-11-01 23:00:00.000000','g1','新人礼',NULL);
INSERT INTO "ledger" VALUES(3,'alice',20,20,30,'invite','invite:j2:carol','2026-11-01 23:10:00.000000','g1','邀请 carol',NULL);
INSERT INTO "ledger" VALUES(4,'carol',10,10,10,'newcomer','newcomer:carol','2026-11-01 23:10:00.000000','g1','新人礼',NULL);
INSERT INTO "ledger" VALUES(5,'alice',20,20,50,'invite','invite:j3:dave','2026-11-01 23:20:00.000000','g1','邀请 dave',NULL);
INSERT INTO "ledger" VALUES(6,'alice',15,15,65,'task','task:alice:invite-star:2:1','2026-11-01 23:20:00.000000','g1','邀请达人 2',NULL);
INSERT INTO "ledger" VALUES(7,'dave',10,10,10,'newcomer','newcomer:dave','2026-11-01 23:20:00.000000','g1','新人礼',NULL);
INSERT INTO "ledger" VALUES(8,'bob',20,20,30,'invite','invite:j4:erin','2026-11-01 23:30:00.000000','g2','邀请 erin',NULL);
INSERT INTO "ledger" VALUES(9,'erin',10,10,10,'newcomer','newcomer:erin','2026-11-01 23:30:00.000000','g2','新人礼',NULL);
INSERT INTO "ledger" VALUES(10,'alice',5,5,70,'checkin','checkin:2026-11-02:alice','2026-11-02 00:00:00.000000','g1','每日签到',NULL);
INSERT INTO "ledger" VALUES(11,'bob',5,5,35,'checkin','checkin:2026-11-02:bob','2026-11-02 00:00:00.000000','g1','每日签到',NULL);
INSERT INTO "ledger" VALUES(12,'carol',5,5,15,'checkin','checkin:2026-11-02:carol','2026-11-02 00:00:00.000000','g1','每日签到',NULL);
INSERT INTO "ledger" VALUES(13,'alice',30,30,100,'admin_award','admin_award:m8:op:alice','2026-11-02 02:00:00.000000','g1','活动奖励',NULL);
INSERT INTO "ledger" VALUES(14,'bob',30,30,65,'admin_award','admin_award:m8:op:bob','2026-11-02 02:00:00.000000','g1','活动奖励',NULL);
INSERT INTO "ledger" VALUES(15,'alice',7,7,107,'quiz','quiz:1:alice','2026-11-02 12:05:00.000000','g1','互动问答第1题 第1位答对',NULL);
INSERT INTO "ledger" VALUES(16,'erin',7,7,17,'quiz','quiz:1:erin','2026-11-02 12:07:00.000000','g2','互动问答第1题 第2位答对',NULL);
INSERT INTO "ledger" VALUES(17,'alice',5,5,112,'checkin','checkin:2026-11-03:alice','2026-11-03 00:00:00.000000','g1','每日签到',NULL);
INSERT INTO "ledger" VALUES(18,'carol',5,5,20,'checkin','checkin:2026-11-03:carol','2026-11-03 00:00:00.000000','g1','每日签到',NULL);
INSERT INTO "ledger" VALUES(19,'erin',5,5,22,'checkin','checkin:2026-11-03:erin','2026-11-03 00:00:00.000000','g2','每日签到',NULL);
INSERT INTO "ledger" VALUES(20,'alice',-18,0,94,'redeem','redeem:m15:alice','2026-11-03 04:00:00.000000','g1','兑换 会员卡密（单号 1）',NULL);
INSERT INTO "ledger" VALUES(21,'bob',-9,0,56,'redeem','redeem:m16:bob','2026-11-03 04:05:00.000000','g1','兑换 满50减5券（单号 2）',NULL);
INSERT INTO "ledger" VALUES(22,'alice',5,5,99,'checkin','checkin:2026-11-04:alice','2026-11-04 00:00:00.000000','g1','每日签到',NULL);
INSERT INTO "ledger" VALUES(23,'alice',10,10,109,'checkin_streak','checkin:2026-11-04:alice:checkin_streak:1','2026-11-04 00:00:00.000000','g1','连续签到3天奖励',NULL);
INSERT INTO "ledger" VALUES(24,'bob',5,5,61,'checkin','checkin:2026-11-04:bob','2026-11-04 00:00:00.000000','g1','每日签到',NULL);
INSERT INTO "ledger" VALUES(25,'carol',5,5,25,'checkin','checkin:2026-11-04:carol','2026-11-04 00:00:00.000000','g1','每日签到',NULL);
INSERT INTO "ledger" VALUES(26,'carol',10,10,35,'checkin_streak','checkin:2026-11-04:carol:checkin_streak:1','2026-11-04 00:00:00.000000','g1','连续签到3天奖励',NULL);
INSERT INTO "ledger" VALUES(27,'erin',5,5,27,'checkin','checkin:2026-11-04:erin','2026-11-04 00:00:00.000000','g2','每日签到',NULL);
INSERT INTO "ledger" VALUES(28,'alice',-20,-20,89,'invite_revoke','invite:j3:dave:revoke','2026-11-04 01:00:00.000000',NULL,'dave 退群',NULL);
INSERT INTO "ledger" VALUES(29,'alice',-15,-15,74,'task_revoke','task:alice:invite-star:2:1:revoke','2026-11-04 01:00:00.000000',NULL,'邀请达人 2',NULL);
INSERT INTO "ledger" VALUES(30,'bob',-5,0,56,'admin_deduct','admin_deduct:m22:op:bob','2026-11-04 02:00:00.000000','g1','刷屏',NULL);
INSERT INTO "ledger" VALUES(31,'alice',5,5,79,'checkin','checkin:2026-11-05:alice','2026-11-05 00:00:00.000000','g1','每日签到',NULL);
INSERT INTO "ledger" VALUES(32,'erin',5,5,32,'checkin','checkin:2026-11-05:erin','2026-11-05 00:00:00.000000','g2','每日签到',NULL);
INSERT INTO "ledger" VALUES(33,'erin',10,10,42,'checkin_streak','checkin:2026-11-05:erin:checkin_streak:1','2026-11-05 00:00:00.000000','g2','连续签到3天奖励',NULL);
INSERT INTO "ledger" VALUES(34,'alice',-27,0,52,'redeem','redeem:m25:alice','2026-11-05 04:10:00.000000','g1','兑换 马克杯（单号 3）',NULL);
INSERT INTO "ledger" VALUES(35,'alice',27,0,79,'refund','redeem:m25:alice:refund','2026-11-05 04:15:00.000000',NULL,'退款 马克杯（单号 3）',NULL);
INSERT INTO "ledger" VALUES(36,'alice',5,5,84,'checkin','checkin:2026-11-06:alice','2026-11-06 00:00:00.000000','g1','每日签到',NULL);
INSERT INTO "ledger" VALUES(37,'bob',5,5,61,'checkin','checkin:2026-11-06:bob','2026-11-06 00:00:00.000000','g1','每日签到',NULL);
INSERT INTO "ledger" VALUES(38,'erin',5,5,47,'checkin','checkin:2026-11-06:erin','2026-11-06 00:00:00.000000','g2','每日签到',NULL);
INSERT INTO "ledger" VALUES(39,'alice',5,5,89,'checkin','checkin:2026-11-07:alice','2026-11-07 00:00:00.000000','g1','每日签到',NULL);
INSERT INTO "ledger" VALUES(40,'erin',5,5,52,'checkin','checkin:2026-11-07:erin','2026-11-07 00:00:00.000000','g2','每日签到',NULL);
INSERT INTO "ledger" VALUES(41,'alice',-54,0,35,'expire','expire:2026-11-08:alice','2026-11-07 16:05:00.000000',NULL,'积分过期',NULL);
INSERT INTO "ledger" VALUES(42,'bob',-51,0,10,'expire','expire:2026-11-08:bob','2026-11-07 16:05:00.000000',NULL,'积分过期',NULL);
INSERT INTO "ledger" VALUES(43,'carol',-15,0,20,'expire','expire:2026-11-08:carol','2026-11-07 16:05:00.000000',NULL,'积分过期',NULL);
INSERT INTO "ledger" VALUES(44,'dave',-10,0,0,'expire','expire:2026-11-08:dave','2026-11-07 16:05:00.000000',NULL,'积分过期',NULL);
INSERT INTO "ledger" VALUES(45,'erin',-17,0,35,'expire','expire:2026-11-08:erin','2026-11-07 16:05:00.000000',NULL,'积分过期',NULL);
INSERT INTO "ledger" VALUES(46,'alice',5,5,40,'checkin','checkin:2026-11-08:alice','2026-11-08 00:00:00.000000','g1','每日签到',NULL);
INSERT INTO "ledger" VALUES(47,'bob',5,5,15,'checkin','checkin:2026-11-08:bob','2026-11-08 00:00:00.000000','g1','每日签到',NULL);
INSERT INTO "ledger" VALUES(48,'erin',5,5,40,'checkin','checkin:2026-11-08:erin','2026-11-08 00:00:00.000000','g2','每日签到',NULL);
INSERT INTO "ledger" VALUES(49,'alice',-5,0,35,'expire','expire:2026-11-09:alice','2026-11-08 16:05:00.000000',NULL,'积分过期',NULL);
INSERT INTO "ledger" VALUES(50,'carol',-5,0,15,'expire','expire:2026-11-09:carol','2026-11-08 16:05:00.000000',NULL,'积分过期',NULL);
INSERT INTO "ledger" VALUES(51,'erin',-5,0,35,'expire','expire:2026-11-09:erin','2026-11-08 16:05:00.000000',NULL,'积分过期',NULL);
INSERT INTO "ledger" VALUES(52,'alice',5,5,40,'checkin','checkin:2026-11-09:alice','2026-11-09 00:00:00.000000','g1','每日签到',NULL);
INSERT INTO "ledger" VALUES(53,'carol',5,5,20,'checkin','checkin:2026-11-09:carol','2026-11-09 00:00:00.000000','g1','每日签到',NULL);
INSERT INTO "ledger" VALUES(54,'erin',5,5,40,'checkin','checkin:2026-11-09:erin','2026-11-09 00:00:00.000000','g2','每日签到',NULL);
INSERT INTO "ledger" VALUES(55,'alice',-15,0,25,'expire','expire:2026-11-10:alice','2026-11-09 16:05:00.000000',NULL,'积分过期',NULL);
INSERT INTO "ledger" VALUES(56,'bob',-5,0,10,'expire','expire:2026-11-10:bob','2026-11-09 16:05:00.000000',NULL,'积分过期',NULL);
INSERT INTO "ledger" VALUES(57,'carol',-15,0,5,'expire','expire:2026-11-10:carol','2026-11-09 16:05:00.000000',NULL,'积分过期',NULL);
INSERT INTO "ledger" VALUES(58,'erin',-5,0,35,'expire','expire:2026-11-10:erin','2026-11-09 16:05:00.000000',NULL,'积分过期',NULL);
INSERT INTO "ledger" VALUES(59,'alice',5,5,30,'checkin','checkin:2026-11-10:alice','2026-11-10 00:00:00.000000','g1','每日签到',NULL);
INSERT INTO "ledger" VALUES(60,'bob',5,5,15,'checkin','checkin:2026-11-10:bob','2026-11-10 00:00:00.000000','g1','每日签到',NULL);
INSERT INTO "ledger" VALUES(61,'carol',5,5,10,'checkin','checkin:2026-11-10:carol','2026-11-10 00:00:00.000000','g1','每日签到',NULL);
INSERT INTO "ledger" VALUES(62,'erin',-18,0,17,'redeem','redeem:m41:erin','2026-11-10 04:00:00.000000','g2','兑换 会员卡密（单号 4）',NULL);
INSERT INTO "ledger" VALUES(63,'alice',-18,0,12,'redeem','redeem:m42:alice','2026-11-10 04:30:00.000000','g1','兑换 会员卡密（单号 5）',NULL);
INSERT INTO "ledger" VALUES(64,'alice',5,5,17,'checkin','checkin:2026-11-11:alice','2026-11-11 00:00:00.000000','g1','每日签到',NULL);
INSERT INTO "ledger" VALUES(65,'bob',-5,0,10,'expire','expire:2026-11-12:bob','2026-11-11 16:05:00.000000',NULL,'积分过期',NULL);
INSERT INTO "ledger" VALUES(66,'erin',-2,0,15,'expire','expire:2026-11-12:erin','2026-11-11 16:05:00.000000',NULL,'积分过期',NULL);
INSERT INTO "ledger" VALUES(67,'alice',5,5,22,'checkin','checkin:2026-11-12:alice','2026-11-12 00:00:00.000000','g1','每日签到',NULL);
INSERT INTO "ledger" VALUES(68,'bob',5,5,15,'checkin','checkin:2026-11-12:bob','2026-11-12 00:00:00.000000','g1','每日签到',NULL);
INSERT INTO "ledger" VALUES(69,'erin',-5,0,10,'expire','expire:2026-11-13:erin','2026-11-12 16:05:00.000000',NULL,'积分过期',NULL);
INSERT INTO "ledger" VALUES(70,'alice',5,5,27,'checkin','checkin:2026-11-13:alice','2026-11-13 00:00:00.000000','g1','每日签到',NULL);
INSERT INTO "ledger" VALUES(71,'alice',-2,0,25,'expire','expire:2026-11-14:alice','2026-11-13 16:05:00.000000',NULL,'积分过期',NULL);
INSERT INTO "ledger" VALUES(72,'bob',-5,0,10,'expire','expire:2026-11-14:bob','2026-11-13 16:05:00.000000',NULL,'积分过期',NULL);
INSERT INTO "ledger" VALUES(73,'erin',-5,0,5,'expire','expire:2026-11-14:erin','2026-11-13 16:05:00.000000',NULL,'积分过期',NULL);
INSERT INTO "ledger" VALUES(74,'alice',5,5,30,'checkin','checkin:2026-11-14:alice','2026-11-14 00:00:00.000000','g1','每日签到',NULL);
INSERT INTO "ledger" VALUES(75,'bob',5,5,15,'checkin','checkin:2026-11-14:bob','2026-11-14 00:00:00.000000','g1','每日签到',NULL);
INSERT INTO "ledger" VALUES(76,'alice',-5,0,25,'expire','expire:2026-11-15:alice','2026-11-14 16:05:00.000000',NULL,'积分过期',NULL);
INSERT INTO "ledger" VALUES(77,'carol',-5,0,5,'expire','expire:2026-11-15:carol','2026-11-14 16:05:00.000000',NULL,'积分过期',NULL);
INSERT INTO "ledger" VALUES(78,'erin',-5,0,0,'expire','expire:2026-11-15:erin','2026-11-14 16:05:00.000000',NULL,'积分过期',NULL);
INSERT INTO "ledger" VALUES(79,'alice',5,5,30,'checkin','checkin:2026-11-15:alice','2026-11-15 00:00:00.000000','g1','每日签到',NULL);
CREATE TABLE level_ups (
	member_id VARCHAR NOT NULL, 
	level VARCHAR NOT NULL, 
	at DATETIME NOT NULL, 
	PRIMARY KEY (member_id, level), 
	FOREIGN KEY(member_id) REFERENCES members (id)
);
INSERT INTO "level_ups" VALUES('alice','青铜','2026-11-01 23:20:00.000000');
INSERT INTO "level_ups" VALUES('alice','白银','2026-11-01 23:20:00.000000');
INSERT INTO "level_ups" VALUES('bob','青铜','2026-11-02 02:00:00.000000');
INSERT INTO "level_ups" VALUES('bob','白银','2026-11-02 02:00:00.000000');
INSERT INTO "level_ups" VALUES('erin','青铜','2026-11-09 00:00:00.000000');
INSERT INTO "level_ups" VALUES('erin','白银','2026-11-09 00:00:00.000000');
CREATE TABLE lot_uses (
	id INTEGER NOT NULL, 
	entry_id INTEGER, 
	lot_id INTEGER NOT NULL, 
	points INTEGER NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(lot_id) REFERENCES point_lots (id)
);
INSERT INTO "lot_uses" VALUES(1,20,1,10);
INSERT INTO "lot_uses" VALUES(2,20,3,8);
INSERT INTO "lot_uses" VALUES(3,21,2,9);
INSERT INTO "lot_uses" VALUES(4,28,5,20);
INSERT INTO "lot_uses" VALUES(5,29,6,15);
INSERT INTO "lot_uses" VALUES(6,30,2,1);
INSERT INTO "lot_uses" VALUES(7,30,8,4);
INSERT INTO "lot_uses" VALUES(8,34,3,12);
INSERT INTO "lot_uses" VALUES(9,34,10,5);
INSERT INTO "lot_uses" VALUES(10,34,13,10);
INSERT INTO "lot_uses" VALUES(11,35,3,-12);
INSERT INTO "lot_uses" VALUES(12,35,10,-5);
INSERT INTO "lot_uses" VALUES(13,35,13,-10);
INSERT INTO "lot_uses" VALUES(14,41,3,12);
INSERT INTO "lot_uses" VALUES(15,41,10,5);
INSERT INTO "lot_uses" VALUES(16,41,13,30);
INSERT INTO "lot_uses" VALUES(17,41,15,7);
INSERT INTO "lot_uses" VALUES(18,42,8,16);
INSERT INTO "lot_uses" VALUES(19,42,11,5);
INSERT INTO "lot_uses" VALUES(20,42,14,30);
INSERT INTO "lot_uses" VALUES(21,43,4,10);
INSERT INTO "lot_uses" VALUES(22,43,12,5);
INSERT INTO "lot_uses" VALUES(23,44,7,10);
INSERT INTO "lot_uses" VALUES(24,45,9,10);
INSERT INTO "lot_uses" VALUES(25,45,16,7);
INSERT INTO "lot_uses" VALUES(26,49,17,5);
INSERT INTO "lot_uses" VALUES(27,50,18,5);
INSERT INTO "lot_uses" VALUES(28,51,19,5);
INSERT INTO "lot_uses" VALUES(29,55,20,5);
INSERT INTO "lot_uses" VALUES(30,55,21,10);
INSERT INTO "lot_uses" VALUES(31,56,22,5);
INSERT INTO "lot_uses" VALUES(32,57,23,5);
INSERT INTO "lot_uses" VALUES(33,57,24,10);
INSERT INTO "lot_uses" VALUES(34,58,25,5);
INSERT INTO "lot_uses" VALUES(35,62,27,5);
INSERT INTO "lot_uses" VALUES(36,62,28,10);
INSERT INTO "lot_uses" VALUES(37,62,31,3);
INSERT INTO "lot_uses" VALUES(38,63,26,5);
INSERT INTO "lot_uses" VALUES(39,63,29,5);
INSERT INTO "lot_uses" VALUES(40,63,32,5);
INSERT INTO "lot_uses" VALUES(41,63,34,3);
INSERT INTO "lot_uses" VALUES(42,65,30,5);
INSERT INTO "lot_uses" VALUES(43,66,31,2);
INSERT INTO "lot_uses" VALUES(44,69,33,5);
INSERT INTO "lot_uses" VALUES(45,71,34,2);
INSERT INTO "lot_uses" VALUES(46,72,35,5);
INSERT INTO "lot_uses" VALUES(47,73,36,5);
INSERT INTO "lot_uses" VALUES(48,76,37,5);
INSERT INTO "lot_uses" VALUES(49,77,38,5);
INSERT INTO "lot_uses" VALUES(50,78,39,5);
CREATE TABLE mall_codes (
	id INTEGER NOT NULL, 
	sku VARCHAR NOT NULL, 
	code VARCHAR NOT NULL, 
	order_id INTEGER, 
	imported_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_mall_codes_sku_code UNIQUE (sku, code), 
	FOREIGN KEY(sku) REFERENCES mall_items (sku)
);
INSERT INTO "mall_codes" VALUES(1,'vip','VIP-AAA1',1,'2026-11-01 23:00:00.000000');
INSERT INTO "mall_codes" VALUES(2,'vip','VIP-BBB2',4,'2026-11-01 23:00:00.000000');
INSERT INTO "mall_codes" VALUES(3,'vip','VIP-CCC3',5,'2026-11-01 23:00:00.000000');
INSERT INTO "mall_codes" VALUES(4,'vip','VIP-DDD4',NULL,'2026-11-01 23:00:00.000000');
CREATE TABLE mall_items (
	sku VARCHAR NOT NULL, 
	name VARCHAR NOT NULL, 
	kind VARCHAR NOT NULL, 
	points INTEGER NOT NULL, 
	cash INTEGER NOT NULL, 
	stock INTEGER, 
	sold INTEGER NOT NULL, 
	limit_per_member INTEGER NOT NULL, 
	starts DATETIME, 
	ends DATETIME, 
	min_level VARCHAR NOT NULL, 
	detail VARCHAR NOT NULL, 
	position INTEGER NOT NULL, 
	in_config BOOLEAN NOT NULL, 
	listed BOOLEAN NOT NULL, 
	first_seen DATETIME, 
	PRIMARY KEY (sku), 
	CONSTRAINT ck_mall_items_stock CHECK (stock IS NULL OR stock >= 0), 
	CONSTRAINT ck_mall_items_sold CHECK (sold >= 0)
);
INSERT INTO "mall_items" VALUES('vip','会员卡密','card_code',20,0,1,3,0,NULL,NULL,'','{"link": "", "coupon": null, "description": ""}',0,1,1,'2026-11-01 23:00:00.000000');
INSERT INTO "mall_items" VALUES('coupon-5','满50减5券','coupon',10,0,NULL,1,0,NULL,NULL,'','{"link": "", "coupon": {"code": "SAVE5", "threshold": "满50减5", "valid_days": 30}, "description": ""}',1,1,1,'2026-11-01 23:00:00.000000');
INSERT INTO "mall_items" VALUES('mug','马克杯','physical',30,0,5,0,0,NULL,NULL,'','{"link": "", "coupon": null, "description": ""}',2,1,1,'2026-11-01 23:00:00.000000');
CREATE TABLE mall_orders (
	id INTEGER NOT NULL, 
	member_id VARCHAR NOT NULL, 
	sku VARCHAR NOT NULL, 
	name VARCHAR NOT NULL, 
	kind VARCHAR NOT NULL, 
	points INTEGER NOT NULL, 
	cash INTEGER NOT NULL, 
	status VARCHAR NOT NULL, 
	"key" VARCHAR NOT NULL, 
	room_id VARCHAR, 
	code_id INTEGER, 
	secret VARCHAR NOT NULL, 
	expires_on DATE, 
	recipient VARCHAR NOT NULL, 
	phone VARCHAR NOT NULL, 
	address VARCHAR NOT NULL, 
	tracking VARCHAR NOT NULL, 
	note VARCHAR NOT NULL, 
	pay_by DATETIME, 
	paid_at DATETIME, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_mall_orders_key UNIQUE ("key"), 
	FOREIGN KEY(member_id) REFERENCES members (id), 
	FOREIGN KEY(sku) REFERENCES mall_items (sku)
);
INSERT INTO "mall_orders" VALUES(1,'alice','vip','会员卡密','card_code',18,0,'done','redeem:m15:alice','g1',1,'VIP-AAA1',NULL,'','','','','',NULL,NULL,'2026-11-03 04:00:00.000000','2026-11-03 04:00:00.000000');
INSERT INTO "mall_orders" VALUES(2,'bob','coupon-5','满50减5券','coupon',9,0,'done','redeem:m16:bob','g1',NULL,'SAVE5','2026-12-02','','','','','',NULL,NULL,'2026-11-03 04:05:00.000000','2026-11-03 04:05:00.000000');
INSERT INTO "mall_orders" VALUES(3,'alice','mug','马克杯','physical',27,0,'cancelled','redeem:m25:alice','g1',NULL,'',NULL,'','','','','会员取消',NULL,NULL,'2026-11-05 04:10:00.000000','2026-11-05 04:15:00.000000');
INSERT INTO "mall_orders" VALUES(4,'erin','vip','会员卡密','card_code',18,0,'done','redeem:m41:erin','g2',2,'VIP-BBB2',NULL,'','','','','',NULL,NULL,'2026-11-10 04:00:00.000000','2026-11-10 04:00:00.000000');
INSERT INTO "mall_orders" VALUES(5,'alice','vip','会员卡密','card_code',18,0,'done','redeem:m42:alice','g1',3,'VIP-CCC3',NULL,'','','','','',NULL,NULL,'2026-11-10 04:30:00.000000','2026-11-10 04:30:00.000000');
CREATE TABLE members (
	id VARCHAR NOT NULL, 
	name VARCHAR NOT NULL, 
	points INTEGER NOT NULL, 
	growth INTEGER NOT NULL, 
	checkin_days INTEGER NOT NULL, 
	checkin_streak INTEGER NOT NULL, 
	last_checkin DATE, 
	points_at DATETIME, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "members" VALUES('alice','Alice',30,147,14,14,'2026-11-15','2026-11-15 00:00:00.000000','2026-11-01 23:00:00.000000');
INSERT INTO "members" VALUES('bob','Bob',15,95,7,1,'2026-11-14','2026-11-14 00:00:00.000000','2026-11-01 23:00:00.000000');
INSERT INTO "members" VALUES('carol','Carol',5,45,5,2,'2026-11-10','2026-11-14 16:05:00.000000','2026-11-01 23:10:00.000000');
INSERT INTO "members" VALUES('dave','dave',0,10,0,0,NULL,'2026-11-07 16:05:00.000000','2026-11-01 23:20:00.000000');
INSERT INTO "members" VALUES('erin','Erin',0,62,7,7,'2026-11-09','2026-11-14 16:05:00.000000','2026-11-01 23:30:00.000000');
INSERT INTO "members" VALUES('op','Op',0,0,0,0,NULL,NULL,'2026-11-02 02:00:00.000000');
CREATE TABLE newcomers (
	member_id VARCHAR NOT NULL, 
	room_id VARCHAR NOT NULL, 
	joined_at DATETIME NOT NULL, 
	status VARCHAR NOT NULL, 
	"key" VARCHAR NOT NULL, 
	PRIMARY KEY (member_id, room_id), 
	FOREIGN KEY(member_id) REFERENCES members (id)
);
INSERT INTO "newcomers" VALUES('alice','g1','2026-11-01 23:00:00.000000','paid','newcomer:alice');
INSERT INTO "newcomers" VALUES('bob','g1','2026-11-01 23:00:00.000000','paid','newcomer:bob');
INSERT INTO "newcomers" VALUES('carol','g1','2026-11-01 23:10:00.000000','paid','newcomer:carol');
INSERT INTO "newcomers" VALUES('dave','g1','2026-11-01 23:20:00.000000','paid','newcomer:dave');
INSERT INTO "newcomers" VALUES('erin','g2','2026-11-01 23:30:00.000000','paid','newcomer:erin');
CREATE TABLE period_sums (
	period VARCHAR NOT NULL, 
	member_id VARCHAR NOT NULL, 
	points INTEGER NOT NULL, 
	reached_at DATETIME NOT NULL, 
	PRIMARY KEY (period, member_id), 
	FOREIGN KEY(member_id) REFERENCES members (id)
);
INSERT INTO "period_sums" VALUES('week:2026-11-02','alice',112,'2026-11-08 00:00:00.000000');
INSERT INTO "period_sums" VALUES('month:2026-11-01','alice',147,'2026-11-15 00:00:00.000000');
INSERT INTO "period_sums" VALUES('week:2026-11-02','bob',80,'2026-11-08 00:00:00.000000');
INSERT INTO "period_sums" VALUES('month:2026-11-01','bob',95,'2026-11-14 00:00:00.000000');
INSERT INTO "period_sums" VALUES('week:2026-11-02','carol',35,'2026-11-04 00:00:00.000000');
INSERT INTO "period_sums" VALUES('month:2026-11-01','carol',45,'2026-11-10 00:00:00.000000');
INSERT INTO "period_sums" VALUES('week:2026-11-02','dave',10,'2026-11-01 23:20:00.000000');
INSERT INTO "period_sums" VALUES('month:2026-11-01','dave',10,'2026-11-01 23:20:00.000000');
INSERT INTO "period_sums" VALUES('week:2026-11-02','erin',57,'2026-11-08 00:00:00.000000');
INSERT INTO "period_sums" VALUES('month:2026-11-01','erin',62,'2026-11-09 00:00:00.000000');
INSERT INTO "period_sums" VALUES('week:2026-11-09','alice',35,'2026-11-15 00:00:00.000000');
INSERT INTO "period_sums" VALUES('week:2026-11-09','carol',10,'2026-11-10 00:00:00.000000');
INSERT INTO "period_sums" VALUES('week:2026-11-09','erin',5,'2026-11-09 00:00:00.000000');
INSERT INTO "period_sums" VALUES('week:2026-11-09','bob',15,'2026-11-14 00:00:00.000000');
CREATE TABLE point_lots (
	id INTEGER NOT NULL, 
	member_id VARCHAR NOT NULL, 
	entry_id INTEGER, 
	points INTEGER NOT NULL, 
	remaining INTEGER NOT NULL, 
	earned_at DATETIME NOT NULL, 
	expires_at DATETIME NOT NULL, 
	warned BOOLEAN NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT ck_point_lots_remaining CHECK (remaining >= 0 AND remaining <= points), 
	FOREIGN KEY(member_id) REFERENCES members (id)
);
INSERT INTO "point_lots" VALUES(1,'alice',1,10,0,'2026-11-01 23:00:00.000000','2026-11-07 16:00:00.000000',0);
INSERT INTO "point_lots" VALUES(2,'bob',2,10,0,'2026-11-01 23:00:00.000000','2026-11-07 16:00:00.000000',0);
INSERT INTO "point_lots" VALUES(3,'alice',3,20,0,'2026-11-01 23:10:00.000000','2026-11-07 16:00:00.000000',1);
INSERT INTO "point_lots" VALUES(4,'carol',4,10,0,'2026-11-01 23:10:00.000000','2026-11-07 16:00:00.000000',1);
INSERT INTO "point_lots" VALUES(5,'alice',5,20,0,'2026-11-01 23:20:00.000000','2026-11-07 16:00:00.000000',0);
INSERT INTO "point_lots" VALUES(6,'alice',6,15,0,'2026-11-01 23:20:00.000000','2026-11-07 16:00:00.000000',0);
INSERT INTO "point_lots" VALUES(7,'dave',7,10,0,'2026-11-01 23:20:00.000000','2026-11-07 16:00:00.000000',1);
INSERT INTO "point_lots" VALUES(8,'bob',8,20,0,'2026-11-01 23:30:00.000000','2026-11-07 16:00:00.000000',1);
INSERT INTO "point_lots" VALUES(9,'erin',9,10,0,'2026-11-01 23:30:00.000000','2026-11-07 16:00:00.000000',1);
INSERT INTO "point_lots" VALUES(10,'alice',10,5,0,'2026-11-02 00:00:00.000000','2026-11-07 16:00:00.000000',1);
INSERT INTO "point_lots" VALUES(11,'bob',11,5,0,'2026-11-02 00:00:00.000000','2026-11-07 16:00:00.000000',1);
INSERT INTO "point_lots" VALUES(12,'carol',12,5,0,'2026-11-02 00:00:00.000000','2026-11-07 16:00:00.000000',1);
INSERT INTO "point_lots" VALUES(13,'alice',13,30,0,'2026-11-02 02:00:00.000000','2026-11-07 16:00:00.000000',1);
INSERT INTO "point_lots" VALUES(14,'bob',14,30,0,'2026-11-02 02:00:00.000000','2026-11-07 16:00:00.000000',1);
INSERT INTO "point_lots" VALUES(15,'alice',15,7,0,'2026-11-02 12:05:00.000000','2026-11-07 16:00:00.000000',1);
INSERT INTO "point_lots" VALUES(16,'erin',16,7,0,'2026-11-02 12:07:00.000000','2026-11-07 16:00:00.000000',1);
INSERT INTO "point_lots" VALUES(17,'alice',17,5,0,'2026-11-03 00:00:00.000000','2026-11-08 16:00:00.000000',1);
INSERT INTO "point_lots" VALUES(18,'carol',18,5,0,'2026-11-03 00:00:00.000000','2026-11-08 16:00:00.000000',1);
INSERT INTO "point_lots" VALUES(19,'erin',19,5,0,'2026-11-03 00:00:00.000000','2026-11-08 16:00:00.000000',1);
INSERT INTO "point_lots" VALUES(20,'alice',22,5,0,'2026-11-04 00:00:00.000000','2026-11-09 16:00:00.000000',1);
INSERT INTO "point_lots" VALUES(21,'alice',23,10,0,'2026-11-04 00:00:00.000000','2026-11-09 16:00:00.000000',1);
INSERT INTO "point_lots" VALUES(22,'bob',24,5,0,'2026-11-04 00:00:00.000000','2026-11-09 16:00:00.000000',1);
INSERT INTO "point_lots" VALUES(23,'carol',25,5,0,'2026-11-04 00:00:00.000000','2026-11-09 16:00:00.000000',1);
INSERT INTO "point_lots" VALUES(24,'carol',26,10,0,'2026-11-04 00:00:00.000000','2026-11-09 16:00:00.000000',1);
INSERT INTO "point_lots" VALUES(25,'erin',27,5,0,'2026-11-04 00:00:00.000000','2026-11-09 16:00:00.000000',1);
INSERT INTO "point_lots" VALUES(26,'alice',31,5,0,'2026-11-05 00:00:00.000000','2026-11-10 16:00:00.000000',1);
INSERT INTO "point_lots" VALUES(27,'erin',32,5,0,'2026-11-05 00:00:00.000000','2026-11-10 16:00:00.000000',1);
INSERT INTO "point_lots" VALUES(28,'erin',33,10,0,'2026-11-05 00:00:00.000000','2026-11-10 16:00:00.000000',1);
INSERT INTO "point_lots" VALUES(29,'alice',36,5,0,'2026-11-06 00:00:00.000000','2026-11-11 16:00:00.000000',1);
INSERT INTO "point_lots" VALUES(30,'bob',37,5,0,'2026-11-06 00:00:00.000000','2026-11-11 16:00:00.000000',1);
INSERT INTO "point_lots" VALUES(31,'erin',38,5,0,'2026-11-06 00:00:00.000000','2026-11-11 16:00:00.000000',1);
INSERT INTO "point_lots" VALUES(32,'alice',39,5,0,'2026-11-07 00:00:00.000000','2026-11-12 16:00:00.000000',0);
INSERT INTO "point_lots" VALUES(33,'erin',40,5,0,'2026-11-07 00:00:00.000000','2026-11-12 16:00:00.000000',1);
INSERT INTO "point_lots" VALUES(34,'alice',46,5,0,'2026-11-08 00:00:00.000000','2026-11-13 16:00:00.000000',1);
INSERT INTO "point_lots" VALUES(35,'bob',47,5,0,'2026-11-08 00:00:00.000000','2026-11-13 16:00:00.000000',1);
INSERT INTO "point_lots" VALUES(36,'erin',48,5,0,'2026-11-08 00:00:00.000000','2026-11-13 16:00:00.000000',1);
INSERT INTO "point_lots" VALUES(37,'alice',52,5,0,'2026-11-09 00:00:00.000000','2026-11-14 16:00:00.000000',1);
INSERT INTO "point_lots" VALUES(38,'carol',53,5,0,'2026-11-09 00:00:00.000000','2026-11-14 16:00:00.000000',1);
INSERT INTO "point_lots" VALUES(39,'erin',54,5,0,'2026-11-09 00:00:00.000000','2026-11-14 16:00:00.000000',1);
INSERT INTO "point_lots" VALUES(40,'alice',59,5,5,'2026-11-10 00:00:00.000000','2026-11-15 16:00:00.000000',1);
INSERT INTO "point_lots" VALUES(41,'bob',60,5,5,'2026-11-10 00:00:00.000000','2026-11-15 16:00:00.000000',1);
INSERT INTO "point_lots" VALUES(42,'carol',61,5,5,'2026-11-10 00:00:00.000000','2026-11-15 16:00:00.000000',1);
INSERT INTO "point_lots" VALUES(43,'alice',64,5,5,'2026-11-11 00:00:00.000000','2026-11-16 16:00:00.000000',0);
INSERT INTO "point_lots" VALUES(44,'alice',67,5,5,'2026-11-12 00:00:00.000000','2026-11-17 16:00:00.000000',0);
INSERT INTO "point_lots" VALUES(45,'bob',68,5,5,'2026-11-12 00:00:00.000000','2026-11-17 16:00:00.000000',0);
INSERT INTO "point_lots" VALUES(46,'alice',70,5,5,'2026-11-13 00:00:00.000000','2026-11-18 16:00:00.000000',0);
INSERT INTO "point_lots" VALUES(47,'alice',74,5,5,'2026-11-14 00:00:00.000000','2026-11-19 16:00:00.000000',0);
INSERT INTO "point_lots" VALUES(48,'bob',75,5,5,'2026-11-14 00:00:00.000000','2026-11-19 16:00:00.000000',0);
INSERT INTO "point_lots" VALUES(49,'alice',79,5,5,'2026-11-15 00:00:00.000000','2026-11-20 16:00:00.000000',0);
CREATE TABLE processed_events (
	id VARCHAR NOT NULL, 
	at DATETIME NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "processed_events" VALUES('join:j1','2026-11-01 23:00:00.000000');
INSERT INTO "processed_events" VALUES('join:j2','2026-11-01 23:10:00.000000');
INSERT INTO "processed_events" VALUES('join:j3','2026-11-01 23:20:00.000000');
INSERT INTO "processed_events" VALUES('join:j4','2026-11-01 23:30:00.000000');
INSERT INTO "processed_events" VALUES('msg:m5','2026-11-02 00:00:00.000000');
INSERT INTO "processed_events" VALUES('msg:m6','2026-11-02 00:00:00.000000');
INSERT INTO "processed_events" VALUES('msg:m7','2026-11-02 00:00:00.000000');
INSERT INTO "processed_events" VALUES('msg:m8','2026-11-02 02:00:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-quiz:2026-11-02T20:00:00+08:00','2026-11-02 12:00:00.000000');
INSERT INTO "processed_events" VALUES('msg:m9','2026-11-02 12:05:00.000000');
INSERT INTO "processed_events" VALUES('msg:m10','2026-11-02 12:06:00.000000');
INSERT INTO "processed_events" VALUES('msg:m11','2026-11-02 12:07:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-quiz:quiz_close:2026-11-02T20:30:00+08:00','2026-11-02 12:30:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-leaderboard:2026-11-02T21:00:00+08:00','2026-11-02 13:00:00.000000');
INSERT INTO "processed_events" VALUES('job:expire_points:2026-11-03T00:05:00+08:00','2026-11-02 16:05:00.000000');
INSERT INTO "processed_events" VALUES('msg:m12','2026-11-03 00:00:00.000000');
INSERT INTO "processed_events" VALUES('msg:m13','2026-11-03 00:00:00.000000');
INSERT INTO "processed_events" VALUES('msg:m14','2026-11-03 00:00:00.000000');
INSERT INTO "processed_events" VALUES('msg:m15','2026-11-03 04:00:00.000000');
INSERT INTO "processed_events" VALUES('msg:m16','2026-11-03 04:05:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-quiz:2026-11-03T20:00:00+08:00','2026-11-03 12:00:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-quiz:quiz_close:2026-11-03T20:30:00+08:00','2026-11-03 12:30:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-leaderboard:2026-11-03T21:00:00+08:00','2026-11-03 13:00:00.000000');
INSERT INTO "processed_events" VALUES('job:expire_points:2026-11-04T00:05:00+08:00','2026-11-03 16:05:00.000000');
INSERT INTO "processed_events" VALUES('msg:m17','2026-11-04 00:00:00.000000');
INSERT INTO "processed_events" VALUES('msg:m18','2026-11-04 00:00:00.000000');
INSERT INTO "processed_events" VALUES('msg:m19','2026-11-04 00:00:00.000000');
INSERT INTO "processed_events" VALUES('msg:m20','2026-11-04 00:00:00.000000');
INSERT INTO "processed_events" VALUES('leave:l21','2026-11-04 01:00:00.000000');
INSERT INTO "processed_events" VALUES('msg:m22','2026-11-04 02:00:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-quiz:2026-11-04T20:00:00+08:00','2026-11-04 12:00:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-quiz:quiz_close:2026-11-04T20:30:00+08:00','2026-11-04 12:30:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-leaderboard:2026-11-04T21:00:00+08:00','2026-11-04 13:00:00.000000');
INSERT INTO "processed_events" VALUES('job:expire_points:2026-11-05T00:05:00+08:00','2026-11-04 16:05:00.000000');
INSERT INTO "processed_events" VALUES('msg:m23','2026-11-05 00:00:00.000000');
INSERT INTO "processed_events" VALUES('msg:m24','2026-11-05 00:00:00.000000');
INSERT INTO "processed_events" VALUES('msg:m25','2026-11-05 04:10:00.000000');
INSERT INTO "processed_events" VALUES('msg:m26','2026-11-05 04:15:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-quiz:2026-11-05T20:00:00+08:00','2026-11-05 12:00:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-quiz:quiz_close:2026-11-05T20:30:00+08:00','2026-11-05 12:30:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-leaderboard:2026-11-05T21:00:00+08:00','2026-11-05 13:00:00.000000');
INSERT INTO "processed_events" VALUES('job:expire_points:2026-11-06T00:05:00+08:00','2026-11-05 16:05:00.000000');
INSERT INTO "processed_events" VALUES('msg:m27','2026-11-06 00:00:00.000000');
INSERT INTO "processed_events" VALUES('msg:m28','2026-11-06 00:00:00.000000');
INSERT INTO "processed_events" VALUES('msg:m29','2026-11-06 00:00:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-quiz:2026-11-06T20:00:00+08:00','2026-11-06 12:00:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-quiz:quiz_close:2026-11-06T20:30:00+08:00','2026-11-06 12:30:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-leaderboard:2026-11-06T21:00:00+08:00','2026-11-06 13:00:00.000000');
INSERT INTO "processed_events" VALUES('job:expire_points:2026-11-07T00:05:00+08:00','2026-11-06 16:05:00.000000');
INSERT INTO "processed_events" VALUES('msg:m30','2026-11-07 00:00:00.000000');
INSERT INTO "processed_events" VALUES('msg:m31','2026-11-07 00:00:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-quiz:2026-11-07T20:00:00+08:00','2026-11-07 12:00:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-quiz:quiz_close:2026-11-07T20:30:00+08:00','2026-11-07 12:30:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-leaderboard:2026-11-07T21:00:00+08:00','2026-11-07 13:00:00.000000');
INSERT INTO "processed_events" VALUES('job:expire_points:2026-11-08T00:05:00+08:00','2026-11-07 16:05:00.000000');
INSERT INTO "processed_events" VALUES('msg:m32','2026-11-08 00:00:00.000000');
INSERT INTO "processed_events" VALUES('msg:m33','2026-11-08 00:00:00.000000');
INSERT INTO "processed_events" VALUES('msg:m34','2026-11-08 00:00:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-quiz:2026-11-08T20:00:00+08:00','2026-11-08 12:00:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-quiz:quiz_close:2026-11-08T20:30:00+08:00','2026-11-08 12:30:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-leaderboard:2026-11-08T21:00:00+08:00','2026-11-08 13:00:00.000000');
INSERT INTO "processed_events" VALUES('job:expire_points:2026-11-09T00:05:00+08:00','2026-11-08 16:05:00.000000');
INSERT INTO "processed_events" VALUES('msg:m35','2026-11-09 00:00:00.000000');
INSERT INTO "processed_events" VALUES('msg:m36','2026-11-09 00:00:00.000000');
INSERT INTO "processed_events" VALUES('msg:m37','2026-11-09 00:00:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-quiz:2026-11-09T20:00:00+08:00','2026-11-09 12:00:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-quiz:quiz_close:2026-11-09T20:30:00+08:00','2026-11-09 12:30:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-leaderboard:2026-11-09T21:00:00+08:00','2026-11-09 13:00:00.000000');
INSERT INTO "processed_events" VALUES('job:expire_points:2026-11-10T00:05:00+08:00','2026-11-09 16:05:00.000000');
INSERT INTO "processed_events" VALUES('msg:m38','2026-11-10 00:00:00.000000');
INSERT INTO "processed_events" VALUES('msg:m39','2026-11-10 00:00:00.000000');
INSERT INTO "processed_events" VALUES('msg:m40','2026-11-10 00:00:00.000000');
INSERT INTO "processed_events" VALUES('msg:m41','2026-11-10 04:00:00.000000');
INSERT INTO "processed_events" VALUES('msg:m42','2026-11-10 04:30:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-quiz:2026-11-10T20:00:00+08:00','2026-11-10 12:00:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-quiz:quiz_close:2026-11-10T20:30:00+08:00','2026-11-10 12:30:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-leaderboard:2026-11-10T21:00:00+08:00','2026-11-10 13:00:00.000000');
INSERT INTO "processed_events" VALUES('job:expire_points:2026-11-11T00:05:00+08:00','2026-11-10 16:05:00.000000');
INSERT INTO "processed_events" VALUES('msg:m43','2026-11-11 00:00:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-quiz:2026-11-11T20:00:00+08:00','2026-11-11 12:00:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-quiz:quiz_close:2026-11-11T20:30:00+08:00','2026-11-11 12:30:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-leaderboard:2026-11-11T21:00:00+08:00','2026-11-11 13:00:00.000000');
INSERT INTO "processed_events" VALUES('job:expire_points:2026-11-12T00:05:00+08:00','2026-11-11 16:05:00.000000');
INSERT INTO "processed_events" VALUES('msg:m44','2026-11-12 00:00:00.000000');
INSERT INTO "processed_events" VALUES('msg:m45','2026-11-12 00:00:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-quiz:2026-11-12T20:00:00+08:00','2026-11-12 12:00:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-quiz:quiz_close:2026-11-12T20:30:00+08:00','2026-11-12 12:30:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-leaderboard:2026-11-12T21:00:00+08:00','2026-11-12 13:00:00.000000');
INSERT INTO "processed_events" VALUES('job:expire_points:2026-11-13T00:05:00+08:00','2026-11-12 16:05:00.000000');
INSERT INTO "processed_events" VALUES('msg:m46','2026-11-13 00:00:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-quiz:2026-11-13T20:00:00+08:00','2026-11-13 12:00:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-quiz:quiz_close:2026-11-13T20:30:00+08:00','2026-11-13 12:30:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-leaderboard:2026-11-13T21:00:00+08:00','2026-11-13 13:00:00.000000');
INSERT INTO "processed_events" VALUES('job:expire_points:2026-11-14T00:05:00+08:00','2026-11-13 16:05:00.000000');
INSERT INTO "processed_events" VALUES('msg:m47','2026-11-14 00:00:00.000000');
INSERT INTO "processed_events" VALUES('msg:m48','2026-11-14 00:00:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-quiz:2026-11-14T20:00:00+08:00','2026-11-14 12:00:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-quiz:quiz_close:2026-11-14T20:30:00+08:00','2026-11-14 12:30:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-leaderboard:2026-11-14T21:00:00+08:00','2026-11-14 13:00:00.000000');
INSERT INTO "processed_events" VALUES('job:expire_points:2026-11-15T00:05:00+08:00','2026-11-14 16:05:00.000000');
INSERT INTO "processed_events" VALUES('msg:m49','2026-11-15 00:00:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-quiz:2026-11-15T20:00:00+08:00','2026-11-15 12:00:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-quiz:quiz_close:2026-11-15T20:30:00+08:00','2026-11-15 12:30:00.000000');
INSERT INTO "processed_events" VALUES('job:evening-leaderboard:2026-11-15T21:00:00+08:00','2026-11-15 13:00:00.000000');
CREATE TABLE profiles (
	member_id VARCHAR NOT NULL, 
	data VARCHAR NOT NULL, 
	completed_at DATETIME, 
	PRIMARY KEY (member_id), 
	FOREIGN KEY(member_id) REFERENCES members (id)
);
CREATE TABLE quiz_answers (
	round_id INTEGER NOT NULL, 
	member_id VARCHAR NOT NULL, 
	at DATETIME NOT NULL, 
	correct BOOLEAN NOT NULL, 
	place INTEGER, 
	PRIMARY KEY (round_id, member_id), 
	FOREIGN KEY(round_id) REFERENCES quiz_rounds (id), 
	FOREIGN KEY(member_id) REFERENCES members (id)
);
INSERT INTO "quiz_answers" VALUES(1,'alice','2026-11-02 12:05:00.000000',1,1);
INSERT INTO "quiz_answers" VALUES(1,'bob','2026-11-02 12:06:00.000000',0,NULL);
INSERT INTO "quiz_answers" VALUES(1,'erin','2026-11-02 12:07:00.000000',1,2);
CREATE TABLE quiz_rounds (
	id INTEGER NOT NULL, 
	"key" VARCHAR NOT NULL, 
	number INTEGER NOT NULL, 
	question VARCHAR NOT NULL, 
	answers VARCHAR NOT NULL, 
	points INTEGER NOT NULL, 
	winners INTEGER NOT NULL, 
	rooms VARCHAR NOT NULL, 
	started_at DATETIME NOT NULL, 
	ends_at DATETIME NOT NULL, 
	closed BOOLEAN NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_quiz_rounds_key UNIQUE ("key")
);
INSERT INTO "quiz_rounds" VALUES(1,'evening-quiz:2026-11-02T20:00:00+08:00',1,'一年有几个月？（填数字）','["12"]',7,2,'[]','2026-11-02 12:00:00.000000','2026-11-02 12:30:00.000000',1);
INSERT INTO "quiz_rounds" VALUES(2,'evening-quiz:2026-11-03T20:00:00+08:00',2,'一年有几个月？（填数字）','["12"]',7,2,'[]','2026-11-03 12:00:00.000000','2026-11-03 12:30:00.000000',1);
INSERT INTO "quiz_rounds" VALUES(3,'evening-quiz:2026-11-04T20:00:00+08:00',3,'一年有几个月？（填数字）','["12"]',7,2,'[]','2026-11-04 12:00:00.000000','2026-11-04 12:30:00.000000',1);
INSERT INTO "quiz_rounds" VALUES(4,'evening-quiz:2026-11-05T20:00:00+08:00',4,'一年有几个月？（填数字）','["12"]',7,2,'[]','2026-11-05 12:00:00.000000','2026-11-05 12:30:00.000000',1);
INSERT INTO "quiz_rounds" VALUES(5,'evening-quiz:2026-11-06T20:00:00+08:00',5,'一年有几个月？（填数字）','["12"]',7,2,'[]','2026-11-06 12:00:00.000000','2026-11-06 12:30:00.000000',1);
INSERT INTO "quiz_rounds" VALUES(6,'evening-quiz:2026-11-07T20:00:00+08:00',6,'一年有几个月？（填数字）','["12"]',7,2,'[]','2026-11-07 12:00:00.000000','2026-11-07 12:30:00.000000',1);
INSERT INTO "quiz_rounds" VALUES(7,'evening-quiz:2026-11-08T20:00:00+08:00',7,'一年有几个月？（填数字）','["12"]',7,2,'[]','2026-11-08 12:00:00.000000','2026-11-08 12:30:00.000000',1);
INSERT INTO "quiz_rounds" VALUES(8,'evening-quiz:2026-11-09T20:00:00+08:00',8,'一年有几个月？（填数字）','["12"]',7,2,'[]','2026-11-09 12:00:00.000000','2026-11-09 12:30:00.000000',1);
INSERT INTO "quiz_rounds" VALUES(9,'evening-quiz:2026-11-10T20:00:00+08:00',9,'一年有几个月？（填数字）','["12"]',7,2,'[]','2026-11-10 12:00:00.000000','2026-11-10 12:30:00.000000',1);
INSERT INTO "quiz_rounds" VALUES(10,'evening-quiz:2026-11-11T20:00:00+08:00',10,'一年有几个月？（填数字）','["12"]',7,2,'[]','2026-11-11 12:00:00.000000','2026-11-11 12:30:00.000000',1);
INSERT INTO "quiz_rounds" VALUES(11,'evening-quiz:2026-11-12T20:00:00+08:00',11,'一年有几个月？（填数字）','["12"]',7,2,'[]','2026-11-12 12:00:00.000000','2026-11-12 12:30:00.000000',1);
INSERT INTO "quiz_rounds" VALUES(12,'evening-quiz:2026-11-13T20:00:00+08:00',12,'一年有几个月？（填数字）','["12"]',7,2,'[]','2026-11-13 12:00:00.000000','2026-11-13 12:30:00.000000',1);
INSERT INTO "quiz_rounds" VALUES(13,'evening-quiz:2026-11-14T20:00:00+08:00',13,'一年有几个月？（填数字）','["12"]',7,2,'[]','2026-11-14 12:00:00.000000','2026-11-14 12:30:00.000000',1);
INSERT INTO "quiz_rounds" VALUES(14,'evening-quiz:2026-11-15T20:00:00+08:00',14,'一年有几个月？（填数字）','["12"]',7,2,'[]','2026-11-15 12:00:00.000000','2026-11-15 12:30:00.000000',1);
CREATE TABLE room_members (
	room_id VARCHAR NOT NULL, 
	member_id VARCHAR NOT NULL, 
	active BOOLEAN NOT NULL, 
	joined_at DATETIME NOT NULL, 
	left_at DATETIME, 
	PRIMARY KEY (room_id, member_id), 
	FOREIGN KEY(room_id) REFERENCES rooms (id), 
	FOREIGN KEY(member_id) REFERENCES members (id)
);
INSERT INTO "room_members" VALUES('g1','alice',1,'2026-11-01 23:00:00.000000',NULL);
INSERT INTO "room_members" VALUES('g1','bob',1,'2026-11-01 23:00:00.000000',NULL);
INSERT INTO "room_members" VALUES('g1','carol',1,'2026-11-01 23:10:00.000000',NULL);
INSERT INTO "room_members" VALUES('g1','dave',0,'2026-11-01 23:20:00.000000','2026-11-04 01:00:00.000000');
INSERT INTO "room_members" VALUES('g2','erin',1,'2026-11-01 23:30:00.000000',NULL);
INSERT INTO "room_members" VALUES('g1','op',1,'2026-11-02 02:00:00.000000',NULL);
CREATE TABLE rooms (
	id VARCHAR NOT NULL, 
	name VARCHAR NOT NULL, 
	active BOOLEAN NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "rooms" VALUES('g1','g1',1,'2026-11-01 23:00:00.000000');
INSERT INTO "rooms" VALUES('g2','g2',1,'2026-11-01 23:30:00.000000');
CREATE TABLE task_tiers (
	id INTEGER NOT NULL, 
	member_id VARCHAR NOT NULL, 
	task_id VARCHAR NOT NULL, 
	tier_at INTEGER NOT NULL, 
	generation INTEGER NOT NULL, 
	points INTEGER NOT NULL, 
	"key" VARCHAR NOT NULL, 
	paid_at DATETIME NOT NULL, 
	reversed_at DATETIME, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_task_tiers UNIQUE (member_id, task_id, tier_at, generation), 
	FOREIGN KEY(member_id) REFERENCES members (id)
);
INSERT INTO "task_tiers" VALUES(1,'alice','invite-star',2,1,15,'task:alice:invite-star:2:1','2026-11-01 23:20:00.000000','2026-11-04 01:00:00.000000');
CREATE INDEX ix_members_points ON members (points);
CREATE INDEX ix_quiz_rounds_open ON quiz_rounds (closed, ends_at);
CREATE INDEX ix_ledger_member_id ON ledger (member_id, id);
CREATE INDEX ix_ledger_at ON ledger (at);
CREATE INDEX ix_invites_invitee ON invites (invitee_id, room_id);
CREATE INDEX ix_invites_inviter ON invites (inviter_id, status);
CREATE INDEX ix_task_tiers_member ON task_tiers (member_id, task_id);
CREATE INDEX ix_mall_codes_free ON mall_codes (sku, order_id, id);
CREATE INDEX ix_mall_orders_member ON mall_orders (member_id, sku, status);
CREATE INDEX ix_mall_orders_status ON mall_orders (status, pay_by);
CREATE INDEX ix_period_sums_board ON period_sums (period, points, reached_at);
CREATE INDEX ix_point_lots_due ON point_lots (expires_at, remaining);
CREATE INDEX ix_point_lots_entry ON point_lots (entry_id);
CREATE INDEX ix_point_lots_member ON point_lots (member_id, expires_at, id);
CREATE INDEX ix_lot_uses_entry ON lot_uses (entry_id);
CREATE INDEX ix_lot_uses_lot ON lot_uses (lot_id);
COMMIT;
